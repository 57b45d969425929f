"""REST routes and the problem+json error shape."""

from gateway.api.problems import MEDIA_TYPE as PROBLEM_MEDIA_TYPE
from gateway.api.problems import Problem

__all__ = ["PROBLEM_MEDIA_TYPE", "Problem"]
