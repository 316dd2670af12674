"""Fixtures shared by the UASR tests."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Small LSTMs run fastest on one thread, and the test machine's cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
