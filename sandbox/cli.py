"""``tempo-sync sandbox serve`` and ``tempo-sync sandbox reset``."""

from __future__ import annotations

import argparse
import signal
import sys
from datetime import date, datetime
from pathlib import Path

from sandbox.config import CREDENTIALS, DataKnobs, Faults, Profile, RateLimits, SandboxConfig
from sandbox.server import SandboxUrls, bind, uvicorn_server
from sandbox.store import STATE_FILE, StateMismatchError

DEFAULT_PORT = 8765
DEFAULT_STATE_DIR = Path("data/sandbox")


def register(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="sandbox_command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve the source and destination sites until Ctrl+C",
        description="Serve two emulated Jira Cloud sites with Tempo on loopback.",
    )
    _serve_options(serve)
    serve.set_defaults(handler=serve_command)
    reset = commands.add_parser(
        "reset",
        help="forget everything clients created (stop the server first)",
        description="Delete the sandbox state file; generated data comes back as it was.",
    )
    reset.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    reset.set_defaults(handler=reset_command)


def _serve_options(parser: argparse.ArgumentParser) -> None:
    data, limits, faults = DataKnobs(), RateLimits(), Faults()
    where = parser.add_argument_group("where")
    where.add_argument("--host", default="127.0.0.1")
    where.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    where.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="where the destination's state persists (default: %(default)s)",
    )
    where.add_argument("--reset", action="store_true", help="start from an empty state")
    where.add_argument("--access-log", action="store_true", help="log every request line")

    knobs = parser.add_argument_group("data (the source is a function of these and the date)")
    knobs.add_argument("--seed", type=int, default=data.seed)
    knobs.add_argument("--users", type=int, default=data.users)
    knobs.add_argument("--issues", type=int, default=data.issues)
    knobs.add_argument("--worklogs-per-day", type=int, default=data.worklogs_per_day)
    knobs.add_argument(
        "--destination-worklogs-per-day",
        type=int,
        default=data.destination_worklogs_per_day,
        help="worklogs the destination's own staff log each day",
    )
    knobs.add_argument(
        "--first-day",
        type=date.fromisoformat,
        default=data.first_day,
        help="the first work date with worklogs (default: %(default)s)",
    )
    knobs.add_argument(
        "--no-destination-tempo",
        action="store_true",
        help="the destination site has no Tempo (only Jira worklogs)",
    )
    knobs.add_argument(
        "--clock",
        type=_instant,
        default=None,
        help="freeze the sandbox clock at this instant, e.g. 2025-03-10T12:00:00Z; without it the "
        "state keeps its clock (real time for a new state)",
    )

    rates = parser.add_argument_group("rate limits per credential (0 switches a limit off)")
    rates.add_argument("--tempo-rate", type=float, default=limits.tempo_per_second)
    rates.add_argument("--tempo-burst", type=int, default=limits.tempo_burst)
    rates.add_argument("--jira-rate", type=float, default=limits.jira_per_second)
    rates.add_argument("--jira-burst", type=int, default=limits.jira_burst)

    trouble = parser.add_argument_group("fault injection (shares are probabilities per request)")
    trouble.add_argument("--latency-ms", type=float, default=faults.latency_ms)
    trouble.add_argument("--jitter-ms", type=float, default=faults.jitter_ms)
    trouble.add_argument("--share-429", type=float, default=faults.share_429)
    trouble.add_argument("--share-5xx", type=float, default=faults.share_5xx)
    trouble.add_argument(
        "--share-lost-post",
        type=float,
        default=faults.share_lost_post,
        help="POSTs that are applied but whose answer never arrives",
    )
    trouble.add_argument(
        "--share-lost-change",
        type=float,
        default=faults.share_lost_change,
        help="PUTs and DELETEs that are applied but whose answer never arrives",
    )
    trouble.add_argument(
        "--share-slow",
        type=float,
        default=faults.share_slow,
        help="answers held back for --slow-seconds",
    )
    trouble.add_argument("--slow-seconds", type=float, default=faults.slow_seconds)
    trouble.add_argument(
        "--retry-after",
        type=int,
        default=faults.retry_after_seconds,
        help="Retry-After seconds on injected 429 and 503 answers",
    )
    trouble.add_argument(
        "--omit-retry-after",
        action="store_true",
        help="send Tempo 429s without Retry-After (Tempo does not document it)",
    )
    trouble.add_argument(
        "--fault-target",
        action="append",
        default=[],
        metavar="SITE/SERVICE",
        help="limit faults to e.g. destination/tempo (repeatable; default: all)",
    )
    trouble.add_argument("--fault-seed", type=int, default=None, help="make the faults repeatable")
    trouble.add_argument("--bulk-item-ms", type=float, default=2.0,
                         help="how long a bulk create holds its issue per worklog")  # fmt: skip

    readings = parser.add_argument_group("profile (readings where the API documents are silent)")
    switches = "; ".join(f"{name}: {'|'.join(values)}" for name, values in Profile.choices().items())
    readings.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"switch one reading, repeatable (defaults first): {switches}",
    )


def config_from(args: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        state_dir=args.state_dir,
        data=DataKnobs(
            seed=args.seed,
            users=args.users,
            issues=args.issues,
            worklogs_per_day=args.worklogs_per_day,
            destination_worklogs_per_day=args.destination_worklogs_per_day,
            first_day=args.first_day,
        ),
        rate_limits=RateLimits(
            tempo_per_second=args.tempo_rate,
            tempo_burst=args.tempo_burst,
            jira_per_second=args.jira_rate,
            jira_burst=args.jira_burst,
        ),
        faults=Faults(
            latency_ms=args.latency_ms,
            jitter_ms=args.jitter_ms,
            share_429=args.share_429,
            share_5xx=args.share_5xx,
            share_lost_post=args.share_lost_post,
            share_lost_change=args.share_lost_change,
            share_slow=args.share_slow,
            slow_seconds=args.slow_seconds,
            retry_after_seconds=args.retry_after,
            omit_retry_after=args.omit_retry_after,
            targets=tuple(args.fault_target),
            seed=args.fault_seed,
        ),
        profile=_profile(args.profile),
        destination_tempo=not args.no_destination_tempo,
        clock=args.clock,
        bulk_item_seconds=args.bulk_item_ms / 1000,
    )


def _profile(assignments: list[str]) -> Profile:
    """``NAME=VALUE`` options as a profile; a bad name or value is a ValueError naming the allowed ones."""
    switches: dict[str, object] = {}
    for assignment in assignments:
        name, separator, value = assignment.partition("=")
        if not separator:
            known = ", ".join(Profile.choices())
            raise ValueError(f"--profile takes NAME=VALUE, not {assignment!r}; the switches are {known}")
        switches[name.strip()] = value.strip()
    return Profile.from_json(switches)


def serve_command(args: argparse.Namespace) -> int:
    try:
        config = config_from(args)
        config.validate()
        if args.reset:
            _remove_state(config.state_dir)
        server = uvicorn_server(config, access_log=args.access_log)
        sock = bind(args.host, args.port)
    except (ValueError, OSError, StateMismatchError) as problem:
        print(f"tempo-sync sandbox: {problem}", file=sys.stderr)
        return 2
    host, port = sock.getsockname()[:2]
    urls = SandboxUrls.at(f"http://{f'[{host}]' if ':' in host else host}:{port}")
    clock = server.config.app.sandbox.clock.describe()
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal; these
    # handlers take it, so a requested stop ends with status 0 instead of a kill. They are in
    # place before the banner, which is what tells a supervisor that the sandbox is up.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, lambda *_: setattr(server, "should_exit", True))
    print(_banner(urls, config, clock), flush=True)
    server.run(sockets=[sock])
    print("tempo-sync sandbox stopped", flush=True)
    return 0


def reset_command(args: argparse.Namespace) -> int:
    removed = _remove_state(args.state_dir)
    where = args.state_dir
    print(f"removed the sandbox state in {where}" if removed else f"no sandbox state in {where}")
    return 0


def _remove_state(state_dir: Path) -> bool:
    files = [state_dir / f"{STATE_FILE}{suffix}" for suffix in ("", "-wal", "-shm")]
    existing = [f for f in files if f.exists()]
    for path in existing:
        path.unlink()
    return bool(existing)


def _banner(urls: SandboxUrls, config: SandboxConfig, clock: dict[str, object]) -> str:
    if clock["mode"] == "frozen":
        clock_text = f"frozen at {clock['frozen_at']}"
    else:
        offset = clock.get("offset_seconds")
        clock_text = "real time" + (f" shifted by {offset} s" if offset else "")
    lines = [
        f"tempo-sync sandbox on {urls.base} (seed {config.data.seed}, state in "
        f"{config.state_dir}, clock {clock_text})",
        "",
    ]
    changed = config.profile.changes()
    if changed:
        readings = ", ".join(f"{name}={value}" for name, value in changed.items())
        lines[-1:-1] = [f"profile: {readings} (the other readings are the defaults)"]
    for name in ("source", "destination"):
        site, credentials = getattr(urls, name), CREDENTIALS[name]
        has_tempo = name == "source" or config.destination_tempo
        basic = f"{credentials.jira_email} : {credentials.jira_token}"
        lines.append(f"  {name:<12} Jira   {site.jira}   basic auth {basic}")
        tempo = (
            f"{site.tempo}   bearer {credentials.tempo_token}" if has_tempo else "off (no Tempo on this site)"
        )
        lines.append(f"  {'':<12} Tempo  {tempo}")
    lines += [
        f"  {'inspection':<12}        {urls.admin}",
        "",
        "Settings for tempo-sync against this sandbox:",
    ]
    env = urls.environment(destination_tempo=config.destination_tempo)
    lines += [f"{key}={value}" for key, value in env.items()]
    lines += ["", "Ctrl+C stops it."]
    return "\n".join(lines)


def _instant(text: str) -> datetime:
    instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if instant.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone, e.g. a trailing Z")
    return instant
