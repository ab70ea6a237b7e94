"""``make bench``: cold start, warm latency, calls per request, package size, memory.

Writes ``bench-output/bench.json`` and prints a table. Everything runs offline:
cold starts talk to a moto server on a free loopback port, provisioned like the
offline stack; warm latency uses moto in-process (see ``scripts.bench_warm``);
only ``chalice package`` reaches PyPI, and its failure is reported, not raised.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from devstack.settings import ROOT, StackSettings
from scripts.bench_warm import CATEGORIES, ROUTES, run_warm

COLD_SCRIPT = Path(__file__).resolve().parent / "bench_cold.py"
OUTPUT_DIR = ROOT / "bench-output"
CHILD_TIMEOUT_SECONDS = 60.0


# --- Cold start ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _seed_session(settings: StackSettings) -> str:
    """A live session in the provisioned table; returns its cookie value."""
    from chalicelib.runtime import SystemClock
    from chalicelib.sessions import NewSession, SessionStore

    from devstack.aws import aws_client

    dynamodb = aws_client("dynamodb", settings)
    store = SessionStore(lambda: dynamodb, settings.sessions_table, SystemClock())
    session_id, _ = store.create(
        NewSession(
            sub="bench-user",
            name="Bench",
            email=None,
            identity_provider="Kakao",
            access_token="at-bench",
            refresh_token="rt-bench",
            access_expires_at=int(time.time()) + 3600,
        ),
        idle_timeout=settings.session_idle_timeout_seconds,
        absolute_timeout=settings.session_absolute_timeout_seconds,
    )
    return session_id


def _child_env(settings: StackSettings, session_id: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KL_"))}
    env.update(settings.aws_env())
    env.update(
        KL_REGION=settings.region,
        KL_SSM_PREFIX=settings.ssm_prefix,
        KL_SESSIONS_TABLE=settings.sessions_table,
        BENCH_SESSION_ID=session_id,
    )
    return env


def _run_child(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    finished = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_SECONDS,
        check=False,
    )
    wall_ms = (time.perf_counter() - started) * 1000
    if finished.returncode != 0:
        raise RuntimeError(f"cold-start child failed: {finished.stderr[-500:]}")
    lines = finished.stdout.strip().splitlines()
    result: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    result["wall_ms"] = wall_ms
    return result


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return round(statistics.median(values), 2) if values else None


def run_cold(runs: int) -> dict[str, Any]:
    """Median cold start of the app and of the two floors, interleaved run by run."""
    python = sys.executable
    variants = {
        "python_pass": [python, "-c", "pass"],
        "python_script": [python, str(COLD_SCRIPT), "pass"],
        "boto3_client": [python, str(COLD_SCRIPT), "boto3"],
        "app_user_info": [python, str(COLD_SCRIPT), "app"],
    }
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    # moto's HTTP server logs every request; the table is the output here.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="kl-bench-") as state:
        from devstack.aws import AwsServer
        from devstack.provision import provision

        settings = StackSettings(aws_port=_free_port(), state_dir=Path(state))
        with AwsServer(settings):
            provision(settings)
            env = _child_env(settings, _seed_session(settings))
            # One untimed round settles the file cache and the .pyc files.
            for command in variants.values():
                _run_child(command, env)
            for _ in range(runs):
                for name, command in variants.items():
                    samples[name].append(_run_child(command, env))

    statuses = {run.get("status") for run in samples["app_user_info"]}
    if statuses != {200}:
        raise RuntimeError(f"cold user-info answered {sorted(map(str, statuses))}")
    summary = {
        name: {
            "wall_ms": _median(runs_, "wall_ms"),
            "in_process_ms": _median(runs_, "in_process_ms"),
            "maxrss_kb": _median(runs_, "maxrss_kb"),
            "peak_rss_kb": _median(runs_, "peak_rss_kb"),
            "runs": len(runs_),
        }
        for name, runs_ in samples.items()
    }
    summary["app_user_info"]["import_ms"] = _median(
        samples["app_user_info"], "import_ms"
    )
    summary["app_user_info"]["heavy_modules"] = samples["app_user_info"][-1].get(
        "heavy_modules", []
    )
    app = summary["app_user_info"]
    return {
        "method": "wall_ms: the parent's perf_counter around the whole subprocess "
        "(interpreter start-up and exit included); in_process_ms: perf_counter "
        "inside the child from its first statement to the answer; maxrss_kb: "
        "ru_maxrss of the child. AWS: moto server on a loopback port.",
        "variants": summary,
        "ratios": {
            "wall_vs_python_pass": _ratio(app["wall_ms"], "python_pass", summary),
            "wall_vs_boto3_client": _ratio(app["wall_ms"], "boto3_client", summary),
            "in_process_vs_boto3_client": _ratio(
                app["in_process_ms"], "boto3_client", summary, "in_process_ms"
            ),
        },
    }


def _ratio(
    value: float | None,
    floor: str,
    summary: dict[str, dict[str, Any]],
    key: str = "wall_ms",
) -> float | None:
    base = summary[floor].get(key)
    if value is None or not base:
        return None
    return round(value / float(base), 2)


# --- Report ----------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def render_table(report: dict[str, Any]) -> str:
    lines = [f"machine: {json.dumps(report['machine'])}", ""]

    cold = report["cold_start"]["variants"]
    lines.append("cold start (median)        wall ms  in-process ms  peak RSS MB")
    for name, values in cold.items():
        rss = (values["peak_rss_kb"] or 0) / 1024
        in_process = values["in_process_ms"] or 0.0
        lines.append(
            f"  {name:<24}{values['wall_ms']:>8.1f}{in_process:>15.1f}{rss:>13.1f}"
        )
    ratios = report["cold_start"]["ratios"]
    lines.append(f"  ratios: {json.dumps(ratios)}")
    lines.append(
        f"  app import ms: {cold['app_user_info'].get('import_ms')}; heavy modules "
        f"loaded: {cold['app_user_info'].get('heavy_modules')}"
    )
    lines.append("")

    warm = report["warm"]["routes"]
    lines.append(
        "warm route        ours med/p99 ms   direct med/p99 ms  overhead  "
        "calls d/s/c/j (first)  minimum"
    )
    for route in ROUTES:
        row = warm[route]
        ours, direct = row["ours"], row["direct"]
        per = row["ours"]["calls_per_request"]
        calls = "/".join(_count(per[k]) for k in CATEGORIES)
        first = "/".join(str(row["calls_first_request"][k]) for k in CATEGORIES)
        minimum = "/".join(str(row["calls_minimum"][k]) for k in CATEGORIES)
        lines.append(
            f"  {route:<15}{ours['median_ms']:>7.2f}/{ours['p99_ms']:<8.2f}"
            f"{direct['median_ms']:>9.2f}/{direct['p99_ms']:<8.2f}"
            f"{row['overhead_median_ms']:>8.2f}  {calls:<9} ({first:<9})  {minimum}"
        )
    lines.append(f"  backend: {report['warm']['backend']}")
    lines.append("")

    package = report["package"]
    if package.get("built"):
        lines.append(
            f"lambda package: {package['zipped_bytes'] / 1e6:.2f} MB zipped, "
            f"{package['unzipped_bytes'] / 1e6:.2f} MB unzipped"
        )
        for entry in package["largest"]:
            lines.append(
                f"  {entry['name']:<24}{entry['unzipped_bytes'] / 1e6:>8.2f} MB"
            )
    else:
        lines.append(f"lambda package: not built ({package.get('reason')})")
    return "\n".join(lines)


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench")
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--no-package", action="store_true")
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR)
    args = parser.parse_args(argv)

    output: Path = args.output
    output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report: dict[str, Any] = {"machine": machine()}
    report["cold_start"] = run_cold(args.cold_runs)
    report["warm"] = run_warm(args.requests)
    if args.no_package:
        report["package"] = {"built": False, "reason": "skipped (--no-package)"}
    else:
        from scripts.bench_package import measure_package

        report["package"] = measure_package(output / "package")
    report["duration_s"] = round(time.perf_counter() - started, 1)

    (output / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
    table = render_table(report)
    (output / "bench.txt").write_text(table + "\n")
    print(table)
    print(f"\nwritten: {output / 'bench.json'} ({report['duration_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
