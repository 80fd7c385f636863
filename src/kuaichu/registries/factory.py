import pybreaker

from kuaichu.db import Database
from kuaichu.registries.adapters import HttpRegistry, ReferenceRegistry, Registries
from kuaichu.settings import Settings


def registries_from_settings(settings: Settings, database: Database) -> Registries:
    if settings.registry_backend == "http":
        return HttpRegistry(
            settings.registry_url,
            token=settings.registry_token,
            timeout_seconds=settings.registry_timeout_seconds,
            retries=settings.registry_retries,
            breaker=pybreaker.CircuitBreaker(
                fail_max=settings.registry_breaker_fail_max,
                reset_timeout=settings.registry_breaker_reset_seconds,
                name="registry",
            ),
        )
    return ReferenceRegistry(database.reader)
