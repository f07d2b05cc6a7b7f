"""Ctrl-C and SIGTERM during `up`: how orchestrator.interrupts turns signals into requests. What the deploy
does with them, and the masking of the deploy hook's output, tests/engine/test_interrupts.py shows on a real
`up`."""

from __future__ import annotations

import os
import signal

import pytest

from orchestrator.interrupts import FIRST, Interrupted, Interrupts, handled

def test_before_the_deploy_the_first_signal_stops_the_build_at_once():
    said: list[str] = []
    interrupts = Interrupts(said.append)
    with pytest.raises(KeyboardInterrupt):
        interrupts.handle(signal.SIGINT)
    assert "stopping the build" in said[0]
    interrupts.handle(signal.SIGINT)  # the cleanup after it is never cut
    assert "this ends on its own" in said[1]


def test_in_a_deploy_the_first_signal_is_a_request_and_the_second_stops_only_an_abortable_step():
    said: list[str] = []
    interrupts = Interrupts(said.append)
    interrupts.deploying()
    interrupts.handle(signal.SIGINT)
    assert interrupts.requested and said == [FIRST]
    interrupts.handle(signal.SIGINT)  # a stop batch: bounded, not cut
    assert not interrupts.raised
    with pytest.raises(KeyboardInterrupt), interrupts.abortable(2):  # a hook begun after two signals stops at once
        pass
    with interrupts.shielded():
        interrupts.handle(signal.SIGINT)  # a rollback is never cut


def test_a_wait_ends_at_the_first_signal():
    interrupts = Interrupts(lambda text: None)
    interrupts.deploying()
    with pytest.raises(KeyboardInterrupt), interrupts.abortable(1):
        interrupts.handle(signal.SIGTERM)


def test_handled_turns_real_signals_into_interrupted_and_restores_the_handlers():
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(Interrupted, match="during the build: nothing that runs was changed"), handled(lambda text: None):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # the handler runs at the next bytecode
            pass
    with pytest.raises(Interrupted, match="was completed") as raised, handled(lambda text: None) as interrupts:
        interrupts.deploying()
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):
            pass
    assert raised.value.exit_code == 130
    assert signal.getsignal(signal.SIGINT) is before
