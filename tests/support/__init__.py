"""What the test suites share that is not a fixture: the engine driver, the live and in-thread
servers, the journal scenario, the Vortex fake and the SQL checks."""
