"""Benchmarks run by `leadsea bench NAME`: each has add_arguments(parser) and run(options, log) -> dict."""
