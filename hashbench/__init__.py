"""hashbench: learning-to-hash methods, data-set protocols and one evaluator, end to end."""

from hashbench.errors import HashbenchError
from hashbench.method import HashingMethod, Subset
from hashbench.registry import create_method, get_method, list_methods, register_method

__version__ = "0.1.0"

__all__ = [
    "HashbenchError",
    "HashingMethod",
    "Subset",
    "__version__",
    "create_method",
    "get_method",
    "list_methods",
    "register_method",
]
