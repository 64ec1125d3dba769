"""Logging: loguru to stderr, readable by default, JSON lines on request."""

from __future__ import annotations

import logging
import sys
from typing import Any

from loguru import logger


def _format(record: Any) -> str:
    extra = record["extra"]
    context = " ".join(f"{k}={extra[k]}" for k in ("actor", "bundle", "handoff") if k in extra)
    context = f" [{context}]" if context else ""
    return ("<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level>"
            + context.replace("{", "{{").replace("}", "}}") + " {message}\n{exception}")


class _InterceptHandler(logging.Handler):
    """Routes the standard library's logging (pykka) into loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(exception=record.exc_info, depth=6).bind(actor=record.name).log(
            level, record.getMessage())


def setup_logging(level: str = "INFO", json: bool = False) -> None:
    """One sink on stderr: human-readable, or one JSON object per line whose
    `record.extra` carries `actor`, `bundle` and `handoff` for indexing."""
    logger.remove()
    if json:
        logger.add(sys.stderr, level=level, serialize=True, backtrace=False, diagnose=False)
    else:
        logger.add(sys.stderr, level=level, format=_format, backtrace=False, diagnose=False,
                   colorize=None)
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.WARNING, force=True)
