"""The HTTP surface: the URL table, thin handlers, middlewares and problem details."""

from .access import access_middleware, allow
from .csrf import csrf_middleware
from .middlewares import error_middleware, metrics_middleware, request_id_middleware
from .routes import setup_routes
from .sessions import cookie_sessions, session_middleware

__all__ = [
    "access_middleware",
    "allow",
    "cookie_sessions",
    "csrf_middleware",
    "error_middleware",
    "metrics_middleware",
    "request_id_middleware",
    "session_middleware",
    "setup_routes",
]
