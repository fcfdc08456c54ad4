"""Arrivals and journeys: what the hot path's shortcuts must keep identical."""

from __future__ import annotations

import random

import pytest


@pytest.mark.parametrize("sessions", [1, 2, 5, 21, 40])
def test_one_session_drawn_by_choice_is_the_one_sample_would_draw(sessions: int) -> None:
    # journeys() draws a single session with rng.choice instead of rng.sample(sessions, 1): both make one
    # _randbelow(n) draw and pick that index, so seeds keep their journeys. If a Python release changed
    # either, this fails and the shortcut must go (simulated and Locust journeys would change by seed).
    population = list(range(sessions))
    for seed in range(50):
        by_sample, by_choice = random.Random(seed), random.Random(seed)
        for _ in range(10):
            assert by_sample.sample(population, 1)[0] == by_choice.choice(population)
        assert by_sample.random() == by_choice.random()  # and the streams stay in step after
