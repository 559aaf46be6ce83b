"""The HTTP surface: the URL table, thin handlers, middlewares and problem details."""

from .middlewares import error_middleware, metrics_middleware, request_id_middleware
from .routes import setup_routes

__all__ = ["error_middleware", "metrics_middleware", "request_id_middleware", "setup_routes"]
