"""Options of the project's own test suite."""


def pytest_addoption(parser):
    parser.addoption("--fuzz", action="store_true", default=False,
                     help="run every input of tests/fuzz_inputs.py in every target state "
                          "(default: a fixed sample of ~100 per state)")
    parser.addoption("--all-scenarios", action="store_true", default=False,
                     help="compare the trace engines on every bundled scenario file "
                          "(default: a fixed sample of both architectures)")
