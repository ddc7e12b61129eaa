"""`drumscribe._signals.deferred`: a signal during a block that must finish (a write to record, a
report to print whole) acts only when the block ends, with the handler that was there before."""

import signal

import pytest

from drumscribe._signals import deferred


def test_a_ctrl_c_inside_the_block_is_raised_when_it_ends():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with deferred(signal.SIGINT):
            signal.raise_signal(signal.SIGINT)
            done.append("the rest of the block ran")
    assert done == ["the rest of the block ran"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_previous_handler_acts_once_and_nothing_happens_without_a_signal():
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with deferred(signal.SIGTERM):
            signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGTERM)
            assert seen == []
        assert seen == [signal.SIGTERM]  # after the block, once
        with deferred(signal.SIGTERM):
            pass
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)
