//! End-to-end tests of eventmap live in `tests/tests/`.
