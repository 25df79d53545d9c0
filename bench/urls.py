from django.db import connection
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler404  # noqa: F401
from config.urls import urlpatterns as project_urlpatterns


class BaselineInsertView(APIView):
    """The baseline: a bare DRF endpoint that parses JSON and does one INSERT."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO bench_baseline (body, created_at) VALUES (%s, now()) RETURNING id",
                [str(request.data)],
            )
            (row_id,) = cursor.fetchone()
        return Response({"id": row_id})


urlpatterns = [*project_urlpatterns, path("bench/baseline", BaselineInsertView.as_view())]
