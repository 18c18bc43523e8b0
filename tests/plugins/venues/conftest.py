import pytest

from tests.live_server import serve
from tests.plugins.venues.fake_venue_system import FakeVenueSystem


@pytest.fixture
def rooms_system():
    """A fresh fake venue system on 127.0.0.1; its address is `rooms_system.url`."""
    fake = FakeVenueSystem()
    with serve(fake.app()) as url:
        fake.url = url
        yield fake
