"""The staff web console (窗口工作台), served by the gateway under ``/console/``."""

from gateway.console.app import create_console, setup_console

__all__ = ["create_console", "setup_console"]
