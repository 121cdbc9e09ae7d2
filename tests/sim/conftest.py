"""Fixtures for the sim tests: a fresh environment and a timeline log."""

import pytest
import simpy


@pytest.fixture
def env() -> simpy.Environment:
    return simpy.Environment()


@pytest.fixture
def log() -> list:
    return []
