"""The address guard for tools: :mod:`stepgraph_runtime.net` under the name tools import it by (``from tools.net import request``)."""

from stepgraph_runtime.net import (  # noqa: F401 - re-exported
    IMDS_ADDRESSES,
    MAX_REDIRECTS,
    MAX_RESPONSE_BYTES,
    BlockedAddressError,
    NetError,
    Response,
    ResponseTooLargeError,
    TooManyRedirectsError,
    __all__,
    check_url,
    display_url,
    request,
)
