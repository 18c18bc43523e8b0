import pytest

from tests.plugins.lms_moodle.fake_moodle import FakeMoodle
from tests.live_server import serve


@pytest.fixture
def moodle():
    """A fresh fake Moodle site on 127.0.0.1; its address is `moodle.url`."""
    fake = FakeMoodle()
    with serve(fake.app()) as url:
        fake.url = url
        yield fake
