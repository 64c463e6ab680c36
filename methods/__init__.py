"""Built-in hashing methods, one module each; installed as ``hashbench.methods``.

Every module here is imported when the registry is first used, and registers its method with
``@register_method``. To add a method, add one file.
"""
