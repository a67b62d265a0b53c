"""Load ``configs/default.toml`` (plus an optional overlay) into frozen config objects.

Rates become exact :class:`~engine.domain.money.Rate` values and rupee amounts become paise at load
time, so nothing downstream parses strings or touches floats for money.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from engine.domain.calendar import ExchangeCalendar
from engine.domain.effective_dates import in_force
from engine.domain.enums import Exchange
from engine.domain.instruments import Liquidity, UnderlyingKind
from engine.domain.money import Rate, rupees_to_paise
from engine.domain.parameters import (
    CategoryRates,
    ChargeSchedule,
    ChargesConfig,
    CircuitConfig,
    ExecutionConfig,
    ExpiryRule,
    GttConfig,
    KindParameters,
    LimitsConfig,
    MarginConfig,
    PortfolioMarginConfig,
    PortfolioParameters,
    RiskConfig,
    SessionsConfig,
)
from engine.domain.rules import AccountRules
from engine.domain.sessions import SessionRules
from engine.risk.portfolio_margin import SpanMarginModel

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
DEFAULT_CONFIG_PATH = CONFIG_DIR / "default.toml"
DEFAULT_INSTRUMENTS_PATH = CONFIG_DIR / "instruments.csv"


@dataclass(frozen=True, slots=True)
class AccountsConfig:
    opening_balance_paise: int
    runtime: str
    pool_workers: int
    pool_batch_max: int
    passivate_after_s: float
    ask_timeout_ms: int
    inbox_max: int


@dataclass(frozen=True, slots=True)
class VortexConfig:
    """The Rupeezy Vortex REST quote poller (``[market.vortex]``); credentials come from env."""

    base_url: str
    mode: str  # "ltp" | "ohlcv" | "full" (only "full" carries dpr_high / dpr_low)
    id_form: str  # "exchange_token" (NSE_EQ-22) or "ticker" (NSE:RELIANCE)
    poll_interval_ms: int
    batch_max: int
    requests_per_second_max: float
    timeout_ms: int
    retries_max: int
    backoff_ms: int
    retry_after_max_ms: int
    stale_after_ms: int
    poll_all_instruments_max: int


@dataclass(frozen=True, slots=True)
class VolatilityConfig:
    """The simulated reference process (``engine.market.simulated_prices``): annualised
    volatilities as fractions, by instrument class, and the trading time they are spread over."""

    drift: float
    sessions_per_year: int
    session_hours: float
    index: float
    commodity: float
    stock: Mapping[Liquidity, float]
    instruments: Mapping[str, float]  # instrument id -> its own volatility
    # (IST minute of day, multiplier of σ from then), sorted and normalised so that σ's mean
    # square over the session (session_hours from the first entry) is 1; () for none.
    intraday: tuple[tuple[int, float], ...] = ()

    def intraday_multiplier(self, minute_of_day: int) -> float:
        """σ's multiplier at an IST minute of the day: the profile's entry in force, 1 outside
        the session or without a profile."""
        if not self.intraday:
            return 1.0
        start = self.intraday[0][0]
        if not start <= minute_of_day < start + self.session_hours * 60:
            return 1.0
        multiplier = 1.0
        for minute, value in self.intraday:
            if minute <= minute_of_day:
                multiplier = value
        return multiplier

    @property
    def trading_year_ms(self) -> float:
        return self.sessions_per_year * self.session_hours * 3_600_000

    @property
    def session_ms(self) -> float:
        return self.session_hours * 3_600_000


@dataclass(frozen=True, slots=True)
class FactorLink:
    """One instrument's factor (a ticker) and its correlation with it, or its beta to it."""

    factor: str | None  # None: the default factor of its exchange
    correlation: float | None
    beta: float | None


@dataclass(frozen=True, slots=True)
class FactorConfig:
    """The one-factor model tying stocks to their index (``engine.market.simulated_prices``)."""

    index_by_exchange: Mapping[str, str]  # exchange -> the ticker of its index
    correlation: Mapping[Liquidity, float]  # a stock's, by liquidity tier
    instruments: Mapping[str, FactorLink]  # by ticker


@dataclass(frozen=True, slots=True)
class SurfaceConfig:
    """The implied-volatility surface (``engine.market.volatility_surface``); fractions."""

    atm: Mapping[str, float]  # by underlying kind (INDEX, STOCK, COMMODITY)
    underlyings: Mapping[str, float]  # one underlying's own ATM level
    mean_reversion_half_life_sessions: float
    vol_of_vol: float
    spot_correlation: float
    skew: float
    curvature: float
    moneyness_limit: float
    term_slope: float
    term_floor_days: float
    minimum: float
    maximum: float


@dataclass(frozen=True, slots=True)
class OptionsConfig:
    """Futures by cost of carry and options by Black-76 on the simulated spots."""

    rate: float  # annual, continuously compounded
    far_otm_spread_widening: float
    surface: SurfaceConfig


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """An underlying's contract specification for contracts expiring on or after
    ``effective_from`` (the exchanges revise lot sizes every six months)."""

    effective_from: date
    lot_size: int
    freeze_quantity: int  # the most one order may carry (0: no limit configured)
    strike_step_paise: int
    future_tick_paise: int
    option_tick_paise: int


@dataclass(frozen=True, slots=True)
class ListedUnderlying:
    """One underlying the simulated exchange lists derivatives on (``engine.market.universe``)."""

    name: str  # NIFTY, RELIANCE, CRUDEOIL
    exchange: Exchange  # NFO, BFO or MCX
    spot: str  # the ticker of its spot (an index, a stock, an MCX reference price)
    kind: UnderlyingKind
    liquidity: Liquidity  # its futures' and near-the-money options' tier
    terms: tuple[ContractTerms, ...]  # oldest first
    # MCX only (its contracts follow their own calendar): the day of the month a future expires
    # (moved back over MCX holidays), the months it is listed for, and how many MCX trading
    # days before its future an option on it expires.
    future_expiry_day: int
    contract_months: tuple[int, ...]
    option_expiry_trading_days_before: int

    def terms_on(self, expiry: date) -> ContractTerms:
        """The specification of a contract expiring on ``expiry``."""
        return in_force(self.terms, expiry)


@dataclass(frozen=True, slots=True)
class UniverseConfig:
    """Which derivatives the simulated exchange lists, re-listed at each trade day."""

    generate: bool
    strikes_each_side: int  # strikes listed either side of the at-the-money one
    high_liquidity_strikes: int  # strikes either side of ATM that are HIGH liquidity ...
    medium_liquidity_strikes: int  # ... and MEDIUM; LOW beyond
    weekly_option_series: int
    monthly_option_series: int
    monthly_future_series: int
    underlyings: tuple[ListedUnderlying, ...]


@dataclass(frozen=True, slots=True)
class DepthConfig:
    """The displayed book around each quote (``engine.market.depth``)."""

    levels: int
    level_step_of_spread_ppm: int
    level_growth_ppm: int
    noise_ppm: int
    redraw_ms: int
    replenish_half_life_ms: int
    touch_lots: Mapping[str, Mapping[Liquidity, int]]  # "equity" | "futures" | "options"
    lots_per_order: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class MarketConfig:
    source: str
    seed: int
    jitter_interval_ms: int
    jitter_intensity_ppm: int
    jitter_convergence_ppm: int
    reference_interval_ms: int
    last_price_store_interval_ms: int
    volatility: VolatilityConfig
    factor: FactorConfig
    options: OptionsConfig
    spread_ppm: Mapping[str, Mapping[Liquidity, int]]  # "equity" | "futures" | "options"
    impact_ticks: Mapping[Liquidity, float]
    typical_quantity: Mapping[Liquidity, int]
    depth: DepthConfig
    vortex: VortexConfig
    universe: UniverseConfig


@dataclass(frozen=True, slots=True)
class JournalConfig:
    durability: str
    batch_max: int
    retries_max: int
    statement_timeout_ms: int
    retry_backoff_ms: int
    retry_backoff_max_ms: int
    connect_timeout_ms: int
    inbox_max: int  # queued batches at which user writes are refused (see persistence.journal)
    write_timeout_ms: int
    stop_timeout_ms: int  # a graceful stop writes what is queued for at most this long
    mirrors_max: int  # accounts' committed states the writer keeps (least recently written go)
    mirror_idle_ms: int  # a mirror not written for this long is dropped


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """The gateway's pool: its size and a bound on every wait (see configs/default.toml)."""

    pool_max: int
    connect_timeout_ms: int
    acquire_timeout_ms: int
    command_timeout_ms: int


@dataclass(frozen=True, slots=True)
class EmbeddedDatabaseConfig:
    """Supervision of the embedded PostgreSQL (``[embedded_database]``; not with DATABASE_URL)."""

    supervise: bool
    check_interval_ms: int  # how often the postmaster's pid is looked at
    restart_backoff_ms: int  # delay after a refused restart; doubles per attempt
    restart_backoff_max_ms: int
    start_timeout_ms: int  # one start, crash recovery included


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    orders_per_minute: int
    login_per_15_minutes: int
    general_per_minute: int
    registrations_per_hour: int
    registrations_global_per_minute: int
    login_emails_per_client_per_15_minutes: int


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str
    port: int
    data_dir: str
    log_format: str
    keepalive_timeout_s: float  # no complete request on a connection for this long: closed
    body_read_timeout_s: float  # a request body not fully received by then: 408
    connections_max: int  # open HTTP connections (websockets included); more are refused
    allowed_origins: tuple[str, ...]  # besides the server's own, for login and register


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """The Prometheus listener (``[metrics]``); its scrape token comes from the environment."""

    enabled: bool
    host: str
    port: int  # 0: any free port (logged at start)


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    gc_thresholds: tuple[int, int, int]
    gc_freeze_after_start: bool


@dataclass(frozen=True, slots=True)
class WebSocketConfig:
    send_queue_max: int
    subscriptions_max: int  # per connection
    subscriptions_per_user_max: int  # across all of a user's connections
    connections_per_user_max: int
    connections_max: int  # per server
    inbound_frames_per_second_max: int  # per connection
    session_check_interval_s: float
    allowed_origins: tuple[str, ...]  # besides the server's own, for cookie-signed sockets


@dataclass(frozen=True, slots=True)
class AuthConfig:
    first_admin_email: str  # the admin a first start creates when the environment names none
    session_ttl_hours: int
    cookie_secure: bool
    session_cache_s: float
    password_hash_memory_kib: int
    password_hash_time_cost: int
    password_hash_parallelism: int
    password_hashing_concurrency_max: int
    password_hashing_queue_max: int


@dataclass(frozen=True, slots=True)
class KiteConfig:
    """The Kite Connect facade's listener, sessions and limits (``[kite]``, docs/KITE.md)."""

    enabled: bool
    host: str
    port: int  # 0: any free port (logged at start)
    apps_per_user_max: int
    accounts_per_user_max: int
    request_token_ttl_s: int
    session_exchanges_per_minute: int
    session_expiry_hour_ist: int
    orders_per_second: int
    quotes_per_second: int
    historical_per_second: int
    other_per_second: int
    orders_listed_max: int
    ticker_instruments_max: int
    ticker_connections_per_key_max: int
    ticker_heartbeat_s: float
    index_tokens: Mapping[str, int]  # index ticker -> Kite's instrument token


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    """Minute candles in PostgreSQL (``[history]``, ``gateway.candle_recorder``): the simulated
    history before the first start, how long minutes are kept, how they are written and how
    much one request may read."""

    seed_days: int  # trading days of seeded history before the first start (0: none)
    retention_days: int  # minutes older than this many calendar days are purged
    flush_interval_ms: int
    purge_interval_s: int
    buffer_candles_max: int  # completed candles held while the database is down
    # The longest range one request may ask for, in calendar days, by interval (Kite's limits).
    request_days_max: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration, frozen."""

    server: ServerConfig
    metrics: MetricsConfig
    runtime: RuntimeConfig
    accounts: AccountsConfig
    limits: LimitsConfig
    execution: ExecutionConfig
    market: MarketConfig
    circuits: CircuitConfig
    charges: ChargesConfig
    margin: MarginConfig
    risk: RiskConfig
    sessions: SessionsConfig
    journal: JournalConfig
    database: DatabaseConfig
    embedded_database: EmbeddedDatabaseConfig
    rate_limits: RateLimitConfig
    websocket: WebSocketConfig
    auth: AuthConfig
    kite: KiteConfig
    history: HistoryConfig
    # Defined beside the domain's other parameters (engine/domain/parameters.py): the account's
    # decisions read it through AccountRules.
    gtt: GttConfig
    raw: Mapping[str, Any]


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Overlay one TOML tree on another, key by key (arrays replace whole)."""
    merged = dict(base)
    for key, value in overlay.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = merge(current, value)
        else:
            merged[key] = value
    return merged


def _ppm(text: str | int | float) -> int:
    """A percentage as parts per million (0.15 % -> 1500)."""
    return Rate.percent(text).parts // 1000


def _fraction_ppm(text: str | int | float) -> int:
    """A plain fraction as parts per million (0.1 -> 100000)."""
    parts = Decimal(str(text)) * 1_000_000
    if parts != parts.to_integral_value():
        raise ValueError(f"fraction {text} is finer than 1e-6")
    return int(parts)


def _category(raw: Mapping[str, Any]) -> CategoryRates:
    return CategoryRates(
        brokerage=Rate.percent(raw["brokerage_pct"]),
        brokerage_max_paise=rupees_to_paise(raw["brokerage_max"]),
        brokerage_flat_paise=rupees_to_paise(raw["brokerage_flat"]),
        stt_buy=Rate.percent(raw["stt_buy_pct"]),
        stt_sell=Rate.percent(raw["stt_sell_pct"]),
        stamp_buy=Rate.percent(raw["stamp_buy_pct"]),
        exchange={k: Rate.percent(v) for k, v in raw["exchange_pct"].items()},
        stt_sell_by_exchange={
            k: Rate.percent(v) for k, v in raw.get("stt_sell_pct_by_exchange", {}).items()
        },
    )


def _schedule(raw: Mapping[str, Any]) -> ChargeSchedule:
    return ChargeSchedule(
        effective_from=date.fromisoformat(str(raw["effective_from"])),
        gst=Rate.percent(raw["gst_pct"]),
        sebi=Rate.percent(raw["sebi_pct"]),
        dp_charge_paise=rupees_to_paise(raw["dp_charge"]),
        squareoff_charge_paise=rupees_to_paise(raw["squareoff_charge"]),
        exercise_stt=Rate.percent(raw["exercise_stt_pct"]),
        delivery_closeout=Rate.percent(raw["delivery_closeout_pct"]),
        cnc=_category(raw["cnc"]),
        mis=_category(raw["mis"]),
        futures=_category(raw["futures"]),
        options=_category(raw["options"]),
    )


def _by_liquidity(raw: Mapping[str, Any], cast: type[int] | type[float]) -> dict[Liquidity, Any]:
    return {Liquidity(name): cast(value) for name, value in raw.items()}


def _fraction_of_percent(text: str | int | float, key: str) -> float:
    value = float(Decimal(str(text)) / 100)
    if not 0 <= value <= 5:
        raise ValueError(f"market.volatility.{key} must be a percentage between 0 and 500")
    return value


def _volatility(raw: Mapping[str, Any]) -> VolatilityConfig:
    config = VolatilityConfig(
        drift=float(Decimal(str(raw["drift_pct"])) / 100),
        sessions_per_year=int(raw["sessions_per_year"]),
        session_hours=float(Decimal(str(raw["session_hours"]))),
        index=_fraction_of_percent(raw["index_pct"], "index_pct"),
        commodity=_fraction_of_percent(raw["commodity_pct"], "commodity_pct"),
        stock={
            Liquidity(tier): _fraction_of_percent(value, f"stock_pct.{tier}")
            for tier, value in raw["stock_pct"].items()
        },
        instruments={
            str(instrument_id): _fraction_of_percent(value, f"instruments.{instrument_id}")
            for instrument_id, value in raw.get("instruments", {}).items()
        },
        intraday=_intraday_profile(
            raw.get("intraday", {}), float(Decimal(str(raw["session_hours"])))
        ),
    )
    if set(config.stock) != set(Liquidity):
        raise ValueError("market.volatility.stock_pct needs HIGH, MEDIUM and LOW")
    if config.sessions_per_year <= 0 or config.session_hours <= 0:
        raise ValueError("market.volatility needs a positive trading year")
    return config


def _intraday_profile(
    raw: Mapping[str, Any], session_hours: float
) -> tuple[tuple[int, float], ...]:
    """The intraday profile, sorted and scaled so σ's mean square over the session is 1."""
    entries = sorted(
        (_minute_of_day(time, f"market.volatility.intraday.{time}"), float(Decimal(str(value))))
        for time, value in raw.items()
    )
    if not entries:
        return ()
    if any(value <= 0 for _, value in entries):
        raise ValueError("market.volatility.intraday multipliers must be positive")
    start, minutes = entries[0][0], round(session_hours * 60)
    squares = 0.0
    for minute in range(start, start + minutes):
        in_force = [value for at, value in entries if at <= minute][-1]
        squares += in_force * in_force
    scale = (squares / minutes) ** -0.5
    return tuple((minute, value * scale) for minute, value in entries)


def _unit_fraction(text: str | int | float, key: str, low: float = 0.0) -> float:
    value = float(Decimal(str(text)))
    if not low <= value <= 1:
        raise ValueError(f"{key} must be between {low:g} and 1")
    return value


def _factor(raw: Mapping[str, Any]) -> FactorConfig:
    links: dict[str, FactorLink] = {}
    for ticker, entry in raw.get("instruments", {}).items():
        key = f"market.factor.instruments.{ticker}"
        correlation = entry.get("correlation")
        beta = entry.get("beta")
        if (correlation is None) == (beta is None):
            raise ValueError(f"{key} needs exactly one of correlation and beta")
        links[str(ticker)] = FactorLink(
            factor=str(entry["factor"]) if "factor" in entry else None,
            correlation=None
            if correlation is None
            else _unit_fraction(correlation, f"{key}.correlation", -1.0),
            beta=None if beta is None else float(Decimal(str(beta))),
        )
    config = FactorConfig(
        index_by_exchange={str(k): str(v) for k, v in raw["index_by_exchange"].items()},
        correlation={
            Liquidity(tier): _unit_fraction(value, f"market.factor.correlation.{tier}", -1.0)
            for tier, value in raw["correlation"].items()
        },
        instruments=links,
    )
    if set(config.correlation) != set(Liquidity):
        raise ValueError("market.factor.correlation needs HIGH, MEDIUM and LOW")
    return config


def _minute_of_day(text: str, key: str) -> int:
    hours, _, minutes = str(text).partition(":")
    minute = int(hours) * 60 + int(minutes)
    if not 0 <= minute < 24 * 60:
        raise ValueError(f"{key} must be a time of day HH:MM")
    return minute


def _options(raw: Mapping[str, Any]) -> OptionsConfig:
    surface = raw["surface"]
    config = OptionsConfig(
        rate=float(Decimal(str(raw["rate_pct"])) / 100),
        far_otm_spread_widening=float(Decimal(str(raw["far_otm_spread_widening"]))),
        surface=SurfaceConfig(
            atm={
                str(kind): _fraction_of_percent(value, f"surface.atm_pct.{kind}")
                for kind, value in surface["atm_pct"].items()
            },
            underlyings={
                str(name): _fraction_of_percent(entry["atm_pct"], f"surface.{name}.atm_pct")
                for name, entry in surface.get("underlyings", {}).items()
            },
            mean_reversion_half_life_sessions=float(
                Decimal(str(surface["mean_reversion_half_life_sessions"]))
            ),
            vol_of_vol=_fraction_of_percent(surface["vol_of_vol_pct"], "surface.vol_of_vol_pct"),
            spot_correlation=_unit_fraction(
                surface["spot_correlation"], "market.options.surface.spot_correlation", -1.0
            ),
            skew=float(Decimal(str(surface["skew"]))),
            curvature=float(Decimal(str(surface["curvature"]))),
            moneyness_limit=float(Decimal(str(surface["moneyness_limit"]))),
            term_slope=float(Decimal(str(surface["term_slope"]))),
            term_floor_days=float(Decimal(str(surface["term_floor_days"]))),
            minimum=_fraction_of_percent(surface["min_pct"], "surface.min_pct"),
            maximum=_fraction_of_percent(surface["max_pct"], "surface.max_pct"),
        ),
    )
    if config.surface.mean_reversion_half_life_sessions <= 0:
        raise ValueError("market.options.surface.mean_reversion_half_life_sessions must be > 0")
    if not 0 < config.surface.minimum <= config.surface.maximum:
        raise ValueError("market.options.surface needs 0 < min_pct <= max_pct")
    if config.far_otm_spread_widening < 0 or config.surface.moneyness_limit <= 0:
        raise ValueError("market.options: widening must be >= 0 and moneyness_limit > 0")
    return config


WEEKDAYS = {"MON": 0, "TUE": 1, "WED": 2, "THU": 3, "FRI": 4}


def _sessions(raw: Mapping[str, Any]) -> SessionsConfig:
    for key in ("equity_open", "equity_close", "mcx_open", "mcx_close_us_summer"):
        _minute_of_day(raw[key], f"sessions.{key}")
    rules = []
    for entry in raw["expiry_rules"]:
        key = f"sessions.expiry_rules[{entry['effective_from']}]"
        try:
            weekday = {Exchange(name): WEEKDAYS[day] for name, day in entry["weekday"].items()}
        except (KeyError, ValueError):
            raise ValueError(f"{key}.weekday: exchanges to MON..FRI") from None
        rules.append(
            ExpiryRule(
                effective_from=date.fromisoformat(str(entry["effective_from"])),
                weekday=weekday,
                weekly=frozenset(str(name) for name in entry["weekly"]),
            )
        )
    closes = tuple(
        (
            date.fromisoformat(str(entry["effective_from"])),
            str(entry["time"]),
        )
        for entry in raw["derivatives_close"]
    )
    for _, time in closes:
        _minute_of_day(time, "sessions.derivatives_close.time")
    if not rules or not closes:
        raise ValueError("sessions needs expiry_rules and derivatives_close entries")
    return SessionsConfig(
        enforce_hours=bool(raw["enforce_hours"]),
        timezone_offset_minutes=int(raw["timezone_offset_minutes"]),
        equity_open=str(raw["equity_open"]),
        equity_close=str(raw["equity_close"]),
        mcx_open=str(raw["mcx_open"]),
        mcx_close_us_summer=str(raw["mcx_close_us_summer"]),
        mcx_close_us_winter=str(raw["mcx_close_us_winter"]),
        mis_squareoff_equity=str(raw["mis_squareoff_equity"]),
        mis_squareoff_fno=str(raw["mis_squareoff_fno"]),
        mis_squareoff_mcx_before_close_minutes=int(raw["mis_squareoff_mcx_before_close_minutes"]),
        derivatives_close=closes,
        holidays=tuple(sorted(date.fromisoformat(str(day)) for day in raw["holidays"])),
        mcx_holidays=tuple(sorted(date.fromisoformat(str(day)) for day in raw["mcx_holidays"])),
        expiry_rules=tuple(rules),
    )


def _contract_terms(raw: Mapping[str, Any], key: str) -> ContractTerms:
    terms = ContractTerms(
        effective_from=date.fromisoformat(str(raw["from"])),
        lot_size=int(raw["lot"]),
        freeze_quantity=int(raw["freeze"]),
        strike_step_paise=rupees_to_paise(raw["strike_step"]),
        future_tick_paise=rupees_to_paise(raw["future_tick"]),
        option_tick_paise=rupees_to_paise(raw["option_tick"]),
    )
    if terms.lot_size <= 0 or terms.freeze_quantity < 0:
        raise ValueError(f"{key}: lot must be > 0 and freeze >= 0")
    if min(terms.strike_step_paise, terms.future_tick_paise, terms.option_tick_paise) <= 0:
        raise ValueError(f"{key}: strike_step and ticks must be > 0")
    return terms


def _listed_underlying(raw: Mapping[str, Any]) -> ListedUnderlying:
    key = f"market.universe.underlyings[{raw.get('name', '?')}]"
    exchange = Exchange(str(raw["exchange"]))
    if exchange not in (Exchange.NFO, Exchange.BFO, Exchange.MCX):
        raise ValueError(f"{key}.exchange: NFO, BFO or MCX")
    terms = tuple(
        sorted(
            (_contract_terms(entry, f"{key}.terms") for entry in raw["terms"]),
            key=lambda t: t.effective_from,
        )
    )
    months = tuple(int(month) for month in raw.get("contract_months", range(1, 13)))
    expiry_day = int(raw.get("future_expiry_day", 0))
    if not terms:
        raise ValueError(f"{key}.terms: at least one entry")
    if exchange is Exchange.MCX and not (1 <= expiry_day <= 31 and months):
        raise ValueError(f"{key}: MCX needs future_expiry_day (1-31) and contract_months")
    if any(not 1 <= month <= 12 for month in months):
        raise ValueError(f"{key}.contract_months: 1-12")
    return ListedUnderlying(
        name=str(raw["name"]),
        exchange=exchange,
        spot=str(raw["spot"]),
        kind=UnderlyingKind(str(raw["kind"])),
        liquidity=Liquidity(str(raw["liquidity"])),
        terms=terms,
        future_expiry_day=expiry_day,
        contract_months=months,
        option_expiry_trading_days_before=int(raw.get("option_expiry_trading_days_before", 0)),
    )


def _universe(raw: Mapping[str, Any]) -> UniverseConfig:
    config = UniverseConfig(
        generate=bool(raw["generate"]),
        strikes_each_side=int(raw["strikes_each_side"]),
        high_liquidity_strikes=int(raw["high_liquidity_strikes"]),
        medium_liquidity_strikes=int(raw["medium_liquidity_strikes"]),
        weekly_option_series=int(raw["weekly_option_series"]),
        monthly_option_series=int(raw["monthly_option_series"]),
        monthly_future_series=int(raw["monthly_future_series"]),
        underlyings=tuple(_listed_underlying(entry) for entry in raw.get("underlyings", [])),
    )
    counts = (
        config.strikes_each_side,
        config.weekly_option_series,
        config.monthly_option_series,
        config.monthly_future_series,
    )
    if min(counts) < 0:
        raise ValueError("market.universe: strike and series counts must be >= 0")
    return config


def _depth(raw: Mapping[str, Any]) -> DepthConfig:
    config = DepthConfig(
        levels=int(raw["levels"]),
        level_step_of_spread_ppm=_ppm(raw["level_step_of_spread_pct"]),
        level_growth_ppm=_ppm(raw["level_growth_pct"]),
        noise_ppm=_ppm(raw["noise_pct"]),
        redraw_ms=int(raw["redraw_ms"]),
        replenish_half_life_ms=int(raw["replenish_half_life_ms"]),
        touch_lots={kind: _by_liquidity(table, int) for kind, table in raw["touch_lots"].items()},
        lots_per_order={kind: int(lots) for kind, lots in raw["lots_per_order"].items()},
    )
    kinds = {"equity", "futures", "options"}
    if set(config.touch_lots) != kinds or set(config.lots_per_order) != kinds:
        msg = "market.depth: touch_lots and lots_per_order need equity, futures and options"
        raise ValueError(msg)
    if any(lots <= 0 for table in config.touch_lots.values() for lots in table.values()):
        raise ValueError("market.depth.touch_lots must be positive")
    if min(config.lots_per_order.values()) <= 0:
        raise ValueError("market.depth.lots_per_order must be positive")
    if not 1 <= config.levels <= 20 or config.noise_ppm >= 1_000_000:
        raise ValueError("market.depth: levels must be 1..20 and noise_pct below 100")
    if config.redraw_ms <= 0 or config.replenish_half_life_ms <= 0:
        raise ValueError("market.depth: redraw_ms and replenish_half_life_ms must be positive")
    return config


def _vortex(raw: Mapping[str, Any]) -> VortexConfig:
    config = VortexConfig(
        base_url=str(raw["base_url"]).rstrip("/"),
        mode=str(raw["mode"]),
        id_form=str(raw["id_form"]),
        poll_interval_ms=int(raw["poll_interval_ms"]),
        batch_max=int(raw["batch_max"]),
        requests_per_second_max=float(raw["requests_per_second_max"]),
        timeout_ms=int(raw["timeout_ms"]),
        retries_max=int(raw["retries_max"]),
        backoff_ms=int(raw["backoff_ms"]),
        retry_after_max_ms=int(raw["retry_after_max_ms"]),
        stale_after_ms=int(raw["stale_after_ms"]),
        poll_all_instruments_max=int(raw["poll_all_instruments_max"]),
    )
    if config.mode not in ("ltp", "ohlcv", "full"):
        raise ValueError(f"market.vortex.mode {config.mode!r}: expected ltp, ohlcv or full")
    if config.id_form not in ("exchange_token", "ticker"):
        msg = f"market.vortex.id_form {config.id_form!r}: expected exchange_token or ticker"
        raise ValueError(msg)
    if not 1 <= config.batch_max <= 1000:
        raise ValueError("market.vortex.batch_max must be 1..1000 (the API's limit per call)")
    if config.requests_per_second_max <= 0:
        raise ValueError("market.vortex.requests_per_second_max must be positive")
    return config


ACCOUNT_RUNTIMES = ("pooled", "threaded", "serial")


def _account_runtime(runtime: str) -> str:
    if runtime not in ACCOUNT_RUNTIMES:
        raise ValueError(f"accounts.runtime must be one of {ACCOUNT_RUNTIMES}, not {runtime!r}")
    return runtime


def _runtime(raw: Mapping[str, Any]) -> RuntimeConfig:
    thresholds = tuple(int(n) for n in raw["gc_thresholds"])
    if len(thresholds) != 3 or min(thresholds) < 1:
        raise ValueError("runtime.gc_thresholds must be three positive integers")
    return RuntimeConfig(
        gc_thresholds=(thresholds[0], thresholds[1], thresholds[2]),
        gc_freeze_after_start=bool(raw["gc_freeze_after_start"]),
    )


def _websocket(raw: Mapping[str, Any]) -> WebSocketConfig:
    origins = _origins(raw["allowed_origins"], "websocket.allowed_origins")
    config = WebSocketConfig(
        send_queue_max=int(raw["send_queue_max"]),
        subscriptions_max=int(raw["subscriptions_max"]),
        subscriptions_per_user_max=int(raw["subscriptions_per_user_max"]),
        connections_per_user_max=int(raw["connections_per_user_max"]),
        connections_max=int(raw["connections_max"]),
        inbound_frames_per_second_max=int(raw["inbound_frames_per_second_max"]),
        session_check_interval_s=float(raw["session_check_interval_s"]),
        allowed_origins=origins,
    )
    if config.session_check_interval_s <= 0:
        raise ValueError("websocket.session_check_interval_s must be positive")
    for name, value in raw.items():
        if name.endswith("_max") and int(value) < 1:
            raise ValueError(f"websocket.{name} must be at least 1")
    return config


def _origins(values: list[str], key: str) -> tuple[str, ...]:
    """Origins written ``scheme://host[:port]``; anything else fails loudly."""
    origins = tuple(str(origin).rstrip("/") for origin in values)
    for origin in origins:
        parts = urlsplit(origin)
        shaped = parts.scheme in ("http", "https") and parts.hostname
        if not shaped or parts.path or parts.query or parts.fragment:
            raise ValueError(f"{key} {origin!r}: expected scheme://host[:port]")
    return origins


def _server(raw: Mapping[str, Any]) -> ServerConfig:
    config = ServerConfig(
        host=str(raw["host"]),
        port=int(raw["port"]),
        data_dir=str(raw["data_dir"]),
        log_format=str(raw["log_format"]),
        keepalive_timeout_s=float(raw["keepalive_timeout_s"]),
        body_read_timeout_s=float(raw["body_read_timeout_s"]),
        connections_max=int(raw["connections_max"]),
        allowed_origins=_origins(raw["allowed_origins"], "server.allowed_origins"),
    )
    if min(config.keepalive_timeout_s, config.body_read_timeout_s) <= 0:
        raise ValueError("server.keepalive_timeout_s and body_read_timeout_s must be positive")
    if config.connections_max < 1:
        raise ValueError("server.connections_max must be at least 1")
    return config


def _embedded_database(raw: Mapping[str, Any]) -> EmbeddedDatabaseConfig:
    config = EmbeddedDatabaseConfig(**raw)
    bounds = (
        config.check_interval_ms,
        config.restart_backoff_ms,
        config.restart_backoff_max_ms,
        config.start_timeout_ms,
    )
    if min(bounds) < 1:
        raise ValueError("embedded_database intervals and timeouts must be positive")
    if config.restart_backoff_max_ms < config.restart_backoff_ms:
        raise ValueError("embedded_database.restart_backoff_max_ms is below restart_backoff_ms")
    return config


def _journal(raw: Mapping[str, Any]) -> JournalConfig:
    if "backlog_max" in raw:
        raise ValueError("journal.backlog_max is now journal.inbox_max")
    config = JournalConfig(**raw)
    if min(config.batch_max, config.inbox_max, config.mirrors_max, config.mirror_idle_ms) < 1:
        raise ValueError(
            "journal.batch_max, inbox_max, mirrors_max and mirror_idle_ms must be positive"
        )
    return config


def _percent_fraction(text: str) -> float:
    return float(Decimal(str(text)) / 100)


def _kind_parameters(raw: Mapping[str, Any]) -> KindParameters:
    return KindParameters(
        price_scan_sigmas=float(Decimal(str(raw["price_scan_sigmas"]))),
        price_scan_min=_percent_fraction(raw["price_scan_min_pct"]),
        volatility_scan=_percent_fraction(raw["volatility_scan_pct"]),
        volatility_scan_min=_percent_fraction(raw["volatility_scan_min_points"]),
        exposure=Rate.percent(raw["exposure_pct"]),
        short_option_minimum=Rate.percent(raw["short_option_minimum_pct"]),
        calendar_spread=Rate.percent(raw["calendar_spread_pct"]),
        expiry_day_extra=Rate.percent(raw["expiry_day_extra_pct"]),
    )


UNDERLYING_KINDS = ("INDEX", "STOCK", "COMMODITY")


def _portfolio_margin(raw: Mapping[str, Any]) -> PortfolioMarginConfig:
    parameters = sorted(
        (
            PortfolioParameters(
                effective_from=date.fromisoformat(str(entry["effective_from"])),
                calendar_benefit_on_expiry_day=bool(entry["calendar_benefit_on_expiry_day"]),
                by_kind={kind: _kind_parameters(entry[kind]) for kind in UNDERLYING_KINDS},
            )
            for entry in raw["parameters"]
        ),
        key=lambda entry: entry.effective_from,
    )
    fallback = raw["fallback_volatility_pct"]
    return PortfolioMarginConfig(
        horizon_days=int(raw["scenario_horizon_days"]),
        extreme_weight=_percent_fraction(raw["extreme_weight_pct"]),
        trading_days_per_year=int(raw["trading_days_per_year"]),
        fallback_volatility={kind: _percent_fraction(fallback[kind]) for kind in UNDERLYING_KINDS},
        parameters=tuple(parameters),
    )


def _risk(raw: Mapping[str, Any]) -> RiskConfig:
    config = RiskConfig(
        credit_unrealised_profit=bool(raw["credit_unrealised_profit"]),
        revaluation_interval_ms=int(raw["revaluation_interval_ms"]),
        revaluation_move=Rate.percent(raw["revaluation_move_pct"]),
        revaluation_min_change=Rate.percent(raw["revaluation_min_change_pct"]),
        margin_call_level=Rate.percent(raw["margin_call_level_pct"]),
        liquidation_level=Rate.percent(raw["liquidation_level_pct"]),
    )
    if config.liquidation_level.parts > config.margin_call_level.parts:
        raise ValueError("risk.liquidation_level_pct must not be above margin_call_level_pct")
    if config.revaluation_interval_ms < 1:
        raise ValueError("risk.revaluation_interval_ms must be positive")
    return config


def _margin(raw: Mapping[str, Any]) -> MarginConfig:
    return MarginConfig(
        mis_equity_min=Rate.percent(raw["mis_equity_min_pct"]),
        equity_var_elm=Rate.percent(raw["equity_var_elm_pct"]),
        equity_var_elm_by_symbol={
            symbol: Rate.percent(pct) for symbol, pct in raw["equity_var_elm_pct_by_symbol"].items()
        },
        portfolio=_portfolio_margin(raw["portfolio"]),
    )


def _history(raw: Mapping[str, Any]) -> HistoryConfig:
    days = {str(interval): int(value) for interval, value in raw["request_days_max"].items()}
    if any(value < 1 for value in days.values()):
        raise ValueError("history.request_days_max: each interval allows at least one day")
    return HistoryConfig(
        seed_days=int(raw["seed_days"]),
        retention_days=int(raw["retention_days"]),
        flush_interval_ms=int(raw["flush_interval_ms"]),
        purge_interval_s=int(raw["purge_interval_s"]),
        buffer_candles_max=int(raw["buffer_candles_max"]),
        request_days_max=days,
    )


def build_config(raw: Mapping[str, Any]) -> Config:
    """Turn a parsed TOML tree into frozen config objects, failing loudly on a missing key."""
    market = raw["market"]
    margin = raw["margin"]
    circuits = raw["circuits"]
    accounts = raw["accounts"]
    limits = raw["limits"]
    execution = raw["execution"]
    schedules = sorted(
        (_schedule(s) for s in raw["charges"]["schedule"]), key=lambda s: s.effective_from
    )
    return Config(
        server=_server(raw["server"]),
        metrics=MetricsConfig(**raw["metrics"]),
        runtime=_runtime(raw["runtime"]),
        accounts=AccountsConfig(
            opening_balance_paise=rupees_to_paise(accounts["opening_balance"]),
            runtime=_account_runtime(str(accounts["runtime"])),
            pool_workers=int(accounts["pool_workers"]),
            pool_batch_max=int(accounts["pool_batch_max"]),
            passivate_after_s=float(accounts["passivate_after_s"]),
            ask_timeout_ms=int(accounts["ask_timeout_ms"]),
            inbox_max=int(accounts["inbox_max"]),
        ),
        limits=LimitsConfig(
            open_orders_max=int(limits["open_orders_max"]),
            order_value_max_paise=rupees_to_paise(limits["order_value_max"]),
            quotes_per_request_max=int(limits["quotes_per_request_max"]),
            basket_orders_max=int(limits["basket_orders_max"]),
            list_limit_max=int(limits["list_limit_max"]),
            account_resets_per_day_max=int(limits["account_resets_per_day_max"]),
            iceberg_legs_min=int(limits["iceberg_legs_min"]),
            iceberg_legs_max=int(limits["iceberg_legs_max"]),
        ),
        execution=ExecutionConfig(
            market_fill_delay_ms=int(execution["market_fill_delay_ms"]),
            market_protection=Rate.percent(execution["market_protection_pct"]),
            slippage_cap_ticks=int(execution["slippage_cap_ticks"]),
        ),
        market=MarketConfig(
            source=str(market["source"]),
            seed=int(market["seed"]),
            jitter_interval_ms=int(market["jitter_interval_ms"]),
            jitter_intensity_ppm=_ppm(market["jitter_intensity_pct"]),
            jitter_convergence_ppm=_fraction_ppm(market["jitter_convergence"]),
            reference_interval_ms=int(market["reference_interval_ms"]),
            last_price_store_interval_ms=int(market["last_price_store_interval_ms"]),
            volatility=_volatility(market["volatility"]),
            factor=_factor(market["factor"]),
            options=_options(market["options"]),
            spread_ppm={
                kind: _by_liquidity(table, int) for kind, table in market["spread_ppm"].items()
            },
            impact_ticks=_by_liquidity(market["slippage"]["impact_ticks"], float),
            typical_quantity=_by_liquidity(market["slippage"]["typical_quantity"], int),
            depth=_depth(market["depth"]),
            vortex=_vortex(market["vortex"]),
            universe=_universe(market["universe"]),
        ),
        circuits=CircuitConfig(
            equity=Rate.percent(circuits["equity_pct"]),
            index_futures=Rate.percent(circuits["index_futures_pct"]),
            stock_futures=Rate.percent(circuits["stock_futures_pct"]),
            commodity_futures=Rate.percent(circuits["commodity_futures_pct"]),
            options=Rate.percent(circuits["options_pct"]),
        ),
        charges=ChargesConfig(schedules=tuple(schedules)),
        margin=_margin(margin),
        risk=_risk(raw["risk"]),
        sessions=_sessions(raw["sessions"]),
        journal=_journal(raw["journal"]),
        database=DatabaseConfig(**raw["database"]),
        embedded_database=_embedded_database(raw["embedded_database"]),
        rate_limits=RateLimitConfig(**raw["rate_limits"]),
        websocket=_websocket(raw["websocket"]),
        auth=AuthConfig(**raw["auth"]),
        kite=KiteConfig(**raw["kite"]),
        history=_history(raw["history"]),
        gtt=GttConfig(**raw["gtt"]),
        raw=raw,
    )


def load_config(overlay_path: Path | None = None, **overrides: Any) -> Config:
    """Load the defaults, overlay ``overlay_path`` and then ``overrides`` (a nested dict)."""
    with DEFAULT_CONFIG_PATH.open("rb") as handle:
        raw: dict[str, Any] = tomllib.load(handle)
    if overlay_path is not None:
        with overlay_path.open("rb") as handle:
            raw = merge(raw, tomllib.load(handle))
    if overrides:
        raw = merge(raw, overrides)
    return build_config(raw)


def account_rules(config: Config) -> AccountRules:
    """The slice of ``config`` an account's decisions depend on."""
    return AccountRules(
        charges=config.charges,
        margin=config.margin,
        risk=config.risk,
        limits=config.limits,
        execution=config.execution,
        circuits=config.circuits,
        timezone_offset_minutes=config.sessions.timezone_offset_minutes,
        sessions=SessionRules.from_config(config.sessions),
        calendar=ExchangeCalendar.from_config(config.sessions),
        portfolio=SpanMarginModel(config.margin.portfolio, config.market.options.rate),
        gtt=config.gtt,
    )
