"""OpenAPI details drf-spectacular cannot infer: the bearer scheme and Trigger.dev's paths."""

import threading

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.plumbing import force_instance, get_doc
from drf_spectacular.utils import OpenApiResponse
from drf_spectacular.views import SpectacularAPIView

from waitpoints.api.serializers import ErrorResponse


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "waitpoints.api.auth.BearerAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A secret API key (`wp_<env>_…`), or on the complete endpoint the "
            "token's public access token (JWT).",
        }


class AnyWireFormatSchema(OpenApiSerializerExtension):
    """An answer in one of two wire formats (api.wire): `anyOf` their components. Not `oneOf`:
    a token with every value set can be valid in both."""

    target_class = "waitpoints.api.serializers.AnyWireFormat"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        return {
            "description": get_doc(force_instance(self.target).__class__),
            "anyOf": [
                auto_schema.resolve_serializer(serializer, direction).ref
                for serializer in self.target.formats
            ],
        }


def strip_optional_trailing_slash(endpoints, **kwargs):
    """The URL patterns accept an optional `/`; document the paths as Trigger.dev spells them."""
    return [
        (path.rstrip("/") if path != "/" else path, regex, method, callback)
        for path, regex, method, callback in endpoints
    ]


ERROR_DESCRIPTIONS = {
    400: "The body is not JSON (or not UTF-8, or nested too deeply)",
    401: "Missing, malformed, unknown or revoked credentials",
    403: "A public access token used outside its scope",
    404: "Unknown id, an id of another environment, or a path no endpoint has",
    409: "The token is already finished (it can no longer be extended)",
    413: "The body is larger than this endpoint's limit",
    422: "A field or query parameter is present but invalid; `details` names each one",
    429: "Rate limited (per API key); retry after the Retry-After header's seconds",
    503: "The database is unavailable for a moment; retry (see Retry-After)",
}


def error_responses(*codes: int) -> dict:
    """The documented error answers of an operation: JSON `{"error", "code", "details"?}` each.

    503 (database briefly unavailable) can happen on every operation, so it is always listed.
    """
    return {
        code: OpenApiResponse(ErrorResponse, description=ERROR_DESCRIPTIONS[code])
        for code in sorted({*codes, 503})
    }


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema, generated one request at a time.

    drf-spectacular (0.30) resolves its extensions' target classes lazily and not thread-safely:
    the first schema requests served at once by a threaded server fail with a 500
    (tfranzel/drf-spectacular#1122). Generation is rare and quick; serializing it is enough.
    """

    _generation = threading.Lock()

    def dispatch(self, request, *args, **kwargs):
        with self._generation:
            return super().dispatch(request, *args, **kwargs)
