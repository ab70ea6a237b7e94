"""The offline stack's commands: provision, up, status, down, demo, smoke.

    python -m devstack up [--detach]   start everything on 127.0.0.1 and wait
    python -m devstack status [--json] each service's URL and whether it runs
    python -m devstack down            stop every process ``up`` started
    python -m devstack provision [--recreate]
    python -m devstack demo            up, self-check login, serve until Ctrl-C
    python -m devstack smoke           up, scripted full flow, down; exit 0 or 1

Ports: DEVSTACK_AWS_PORT (5100), DEVSTACK_COGNITO_PORT (9229),
DEVSTACK_KAKAO_PORT (9230), DEVSTACK_API_PORT (8000), DEVSTACK_FRONTEND_PORT (3001).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from devstack.runner import StackError, Supervisor, services
from devstack.settings import StackSettings


def _provision(settings: StackSettings, recreate: bool) -> None:
    from devstack.provision import ProvisionError, provision
    from devstack.runner import port_is_free
    from scripts import sync_config

    if port_is_free(settings.aws_port):
        raise StackError(
            f"nothing answers at {settings.aws_url}: start the stack first with "
            "`python -m devstack up --detach`"
        )
    try:
        outputs = provision(
            settings, recreate=recreate, token_delivery=settings.token_delivery
        )
    except ProvisionError as error:
        raise StackError(str(error)) from None
    ids = (outputs["user_pool_id"]["value"], outputs["app_client_id"]["value"])
    print(f"  provisioned   pool {ids[0]}, app client {ids[1]}")
    parsed = sync_config.read_outputs_file(settings.outputs_file)
    written = sync_config.write_config(
        parsed, settings.stage, frontend_config_file=settings.frontend_config_file
    )
    for path in written:
        print(f"  config        wrote {path}")


def bring_up(settings: StackSettings, supervisor: Supervisor) -> None:
    """Start every service in order, provisioning once AWS answers."""
    if any(item["running"] for item in supervisor.status().values()):
        raise StackError(
            "a stack is already running (see `python -m devstack status`); "
            "stop it with `python -m devstack down`"
        )
    supervisor.stop_all()
    wanted = services(settings)
    supervisor.check_ports(wanted)
    started = time.monotonic()
    for service in wanted:
        if service.name == "kakao":
            _provision(settings, recreate=False)
        step = time.monotonic()
        supervisor.start(service)
        print(
            f"  {service.name:<13} ready at {service.url} "
            f"({time.monotonic() - step:.1f} s)"
        )
    print(f"stack ready in {time.monotonic() - started:.1f} s")


@contextmanager
def stopped_on_exit(supervisor: Supervisor) -> Iterator[None]:
    """Stop everything on Ctrl-C, SIGTERM, a failure or a normal end."""

    def _interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        stopped = supervisor.stop_all()
        if stopped:
            print(f"stopped {', '.join(stopped)}")
        signal.signal(signal.SIGTERM, previous)


def wait_forever() -> None:
    while True:
        time.sleep(3600)


def cmd_up(settings: StackSettings, detach: bool) -> int:
    supervisor = Supervisor(settings)
    if detach:
        try:
            bring_up(settings, supervisor)
        except BaseException:
            supervisor.stop_all()
            raise
        print("detached: stop with `python -m devstack down`")
        return 0
    with stopped_on_exit(supervisor):
        bring_up(settings, supervisor)
        print(f"open {settings.frontend_url}/ — Ctrl-C stops everything")
        wait_forever()
    return 0


def cmd_status(settings: StackSettings, as_json: bool) -> int:
    status = Supervisor(settings).status()
    if as_json:
        print(json.dumps(status, indent=2))
        return 0
    if not status:
        print("no stack is running")
        return 0
    for name, item in status.items():
        state = "running" if item["running"] else "stopped"
        print(f"{name:<10} {state:<8} {item['url']}")
    return 0


def cmd_down(settings: StackSettings) -> int:
    stopped = Supervisor(settings).stop_all()
    print(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def cmd_serve(settings: StackSettings, service: str) -> int:
    """Run one service in this process (the supervisor's child entry point)."""
    from werkzeug.serving import make_server

    from devstack.request_log import RedactingRequestHandler, run_chalice_local
    from devstack.settings import BIND_HOST

    if service == "api":
        # cwd is chalice_app/ (the supervisor starts it there).
        return run_chalice_local(
            [
                "--host",
                BIND_HOST,
                "--port",
                str(settings.api_port),
                "--stage",
                settings.stage,
                "--no-autoreload",
            ]
        )
    if service == "aws":
        from devstack.aws import serve_aws

        serve_aws(settings)
        return 0
    if service == "kakao":
        from devstack import kakao

        app, port = kakao.create_app(settings), settings.kakao_port
    elif service == "cognito":
        from devstack import cognito

        app, port = cognito.create_app(settings), settings.cognito_port
    elif service == "frontend":
        from devstack import frontend_server

        app, port = frontend_server.create_app(settings), settings.frontend_port
    else:
        print(f"unknown service {service}", file=sys.stderr)
        return 2
    handler = RedactingRequestHandler
    make_server(
        BIND_HOST, port, app, threaded=True, request_handler=handler
    ).serve_forever()
    return 0


def run_doctor(settings: StackSettings) -> bool:
    """`make doctor STAGE=local` against this stack, printed like the command."""
    from devstack.aws import aws_client
    from scripts import doctor, sync_config

    outputs = sync_config.read_outputs_file(settings.outputs_file)
    checks = doctor.Doctor(
        settings.stage,
        outputs,
        lambda service: aws_client(service, settings),
        frontend_config=settings.frontend_config_file,
    ).run()
    print("\ndoctor: config against the live resources")
    print(doctor.render(checks))
    return all(check.ok for check in checks)


def cmd_demo(settings: StackSettings) -> int:
    from devstack.selfcheck import run_demo_check

    supervisor = Supervisor(settings)
    with stopped_on_exit(supervisor):
        bring_up(settings, supervisor)
        if not run_demo_check(settings) or not run_doctor(settings):
            return 1
        print(f"\nOpen {settings.frontend_url}/ in a browser and log in with Kakao.")
        print("Ctrl-C stops everything.")
        wait_forever()
    return 0


def cmd_smoke(settings: StackSettings) -> int:
    from devstack.selfcheck import run_smoke

    supervisor = Supervisor(settings)
    with stopped_on_exit(supervisor):
        bring_up(settings, supervisor)
        return 0 if run_smoke(settings) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    provision = commands.add_parser("provision", help="create the AWS resources")
    provision.add_argument("--recreate", action="store_true")
    up = commands.add_parser("up", help="start every service")
    up.add_argument("--detach", action="store_true")
    status = commands.add_parser("status", help="what runs where")
    status.add_argument("--json", action="store_true")
    commands.add_parser("down", help="stop every service")
    commands.add_parser("demo", help="up, a self-check login, then serve")
    commands.add_parser("smoke", help="up, a scripted full flow, down")
    serve = commands.add_parser("serve", help=argparse.SUPPRESS)
    serve.add_argument("service")
    args = parser.parse_args(argv)

    settings = StackSettings.from_env()
    try:
        if args.command == "provision":
            _provision(settings, args.recreate)
            return 0
        if args.command == "up":
            return cmd_up(settings, args.detach)
        if args.command == "status":
            return cmd_status(settings, args.json)
        if args.command == "down":
            return cmd_down(settings)
        if args.command == "demo":
            return cmd_demo(settings)
        if args.command == "smoke":
            return cmd_smoke(settings)
        return cmd_serve(settings, args.service)
    except StackError as error:
        print(f"devstack: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C is how `up` and `demo` are meant to end; their services
        # were stopped on the way out.
        return 0 if args.command in ("up", "demo") else 130
