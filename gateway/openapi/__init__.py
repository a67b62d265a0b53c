"""The OpenAPI document: built from the route registry (:mod:`gateway.openapi.document`), with the
rules a Struct cannot express (:mod:`gateway.openapi.rules`) and the error answers as it
describes them (:mod:`gateway.openapi.errors`)."""
