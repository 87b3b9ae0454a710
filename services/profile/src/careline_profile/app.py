"""Composition root of the profile service."""

from __future__ import annotations

from datetime import timedelta

from careline_contracts import subjects
from careline_platform.admin import CaregiverSlice
from careline_platform.clock import Clock
from careline_platform.jobs import JobType, Periodic, RetryPolicy
from careline_platform.runtime import ServiceDefinition, ServiceRuntime, connect_infrastructure
from careline_platform.settings import Settings
from careline_profile import assessments, repository
from careline_profile.repository import MongoProfileReader, MongoProfileWriter
from careline_profile.subscribers import NAME, subscribers

__all__ = ["NAME", "create_service"]


async def create_service(settings: Settings, clock: Clock | None = None) -> ServiceRuntime:
    infra = await connect_infrastructure(settings, NAME, clock)
    uow = infra.unit_of_work(subjects.PROFILE, writer=MongoProfileWriter, reader=MongoProfileReader)

    definition = ServiceDefinition(
        name=NAME,
        owned_streams=(subjects.PROFILE,),
        on_start=[
            lambda: repository.ensure_indexes(infra.db),
            lambda: repository.migrate(infra.db, infra.clock.now()),  # next_due_at for older profiles
        ],
        rollup=uow.read().daily_metrics,
        caregiver=CaregiverSlice.of(uow),
        periodic=[Periodic(assessments.CHECKIN_SCAN, timedelta(seconds=settings.checkin_scan_s))],
        consumers=subscribers(uow),
        job_types={
            assessments.CHECKIN_SCAN: JobType(
                lambda job: assessments.scan_checkins(job, uow), RetryPolicy(max_attempts=3)
            )
        },
    )
    return ServiceRuntime(infra, definition)
