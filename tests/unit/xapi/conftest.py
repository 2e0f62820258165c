import pytest
from xapi_fakes import FakePool


@pytest.fixture
def pool() -> FakePool:
    return FakePool()
