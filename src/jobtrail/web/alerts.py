"""`GET /api/v1/alerts`: alerts pending and firing now, and the history of transitions (newest
first, keyset-paginated by transition id)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from jobtrail.alerts import active, history
from jobtrail.web.api import need, store_of

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")


class AlertOut(BaseModel):
    rule: str
    subject: str = Field(description="the job name, queue or worker the alert is about")
    state: str = Field(description="pending or firing")
    severity: str
    value: float | None
    summary: str
    since: float = Field(description="when the condition began to hold (Unix seconds)")
    fired_at: float | None
    updated_at: float = Field(description="when its state, value or summary last changed")


class TransitionOut(BaseModel):
    id: int
    rule: str
    subject: str
    from_: str = Field(alias="from")
    to: str = Field(description="pending, firing, resolved or inactive")
    severity: str
    value: float | None
    summary: str
    since: float
    at: float


class AlertsOut(BaseModel):
    active: list[AlertOut]
    history: list[TransitionOut]
    next_cursor: str | None = Field(description="pass back as `cursor` for older history")


@router.get("/alerts", response_model=AlertsOut, response_model_by_alias=True,
            dependencies=[Depends(need("read"))])
def get_alerts(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(pattern="^[0-9]{0,18}$")] = None,
) -> dict[str, Any]:
    """Active alerts (firing first, most severe first) and the newest `limit` transitions."""
    store = store_of(request)
    steps = history(store, limit=limit, cursor=cursor)
    return {
        "active": [a.as_dict() for a in active(store)],
        "history": [t.as_dict() for t in steps],
        "next_cursor": str(steps[-1].id) if len(steps) == limit else None,
    }
