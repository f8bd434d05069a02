"""`facmon demo` and the real local servers (localstack) that it, the tests and the benchmarks start."""
