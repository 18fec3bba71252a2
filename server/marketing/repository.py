"""Segment, campaign and task SQL. A segment's query is assembled from its filter: fixed parameters
$1..$4 (stores, window start and end, chain-wide), then the parameters of each condition used."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from protocol.marketing import SegmentFilter
from protocol.reports import StateThresholds
from server.reports.repository import RFM_SCORED, STATES_TEMPLATE


@dataclass
class SegmentQuery:
    """The SQL of one segment filter and its arguments."""

    ctes: list[str] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)

    def param(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def sql(self, select: str, tail: str = "") -> str:
        ctes = ",\n".join(self.ctes)
        joins = "\n".join(self.joins)
        where = " AND ".join(self.where) or "true"
        return f"WITH {ctes}\nSELECT {select}\nFROM u\n{joins}\nWHERE {where}\n{tail}"


def segment_query(
    f: SegmentFilter,
    stores: list[Any],
    start: date,
    end: date,
    chain_wide: bool,
    thresholds: StateThresholds,
) -> SegmentQuery:
    t = thresholds
    q = SegmentQuery(args=[stores, start, end, chain_wide])
    q.ctes.append(
        """u AS (
    SELECT m.id AS member_id, m.name, m.phone, coalesce(m.tier_code, '') AS tier, m.consent_marketing, m.consent_sms
    FROM member m
    WHERE m.state = 'active' AND ($4::bool OR EXISTS (
        SELECT 1 FROM member_store ms WHERE ms.member_id = m.id AND ms.store_id = ANY($1::uuid[])))
)"""
    )
    q.ctes.append(
        """a AS (
    SELECT member_id, sum(amount)::bigint AS spend, sum(visits)::bigint AS tx,
           max(day) FILTER (WHERE tickets > 0) AS last_day
    FROM sales_member_day
    WHERE store_id = ANY($1::uuid[]) AND day BETWEEN $2 AND $3
    GROUP BY member_id
)"""
    )
    q.joins.append("LEFT JOIN a ON a.member_id = u.member_id")
    if f.min_spend is not None:
        q.where.append(f"coalesce(a.spend, 0) >= {q.param(f.min_spend)}")
    if f.max_spend is not None:
        q.where.append(f"coalesce(a.spend, 0) <= {q.param(f.max_spend)}")
    if f.min_transactions is not None:
        q.where.append(f"coalesce(a.tx, 0) >= {q.param(f.min_transactions)}")
    if f.max_transactions is not None:
        q.where.append(f"coalesce(a.tx, 0) <= {q.param(f.max_transactions)}")
    # Average ticket exists only for members with a transaction; compared without dividing.
    if f.min_average_ticket is not None:
        q.where.append(f"a.tx > 0 AND a.spend >= {q.param(f.min_average_ticket)}::bigint * a.tx")
    if f.max_average_ticket is not None:
        q.where.append(f"a.tx > 0 AND a.spend <= {q.param(f.max_average_ticket)}::bigint * a.tx")
    for column, values in (("category", f.categories), ("brand", f.brands)):
        if values:
            q.where.append(
                "EXISTS (SELECT 1 FROM sales_line_fact l WHERE l.member_id = u.member_id AND l.day BETWEEN $2 AND $3"
                f" AND l.store_id = ANY($1::uuid[]) AND l.refund_id IS NULL AND l.{column} = ANY({q.param(values)}))"
            )
    if f.tiers:
        q.where.append(f"u.tier = ANY({q.param(f.tiers)}::text[])")
    if f.rfm_segments or f.min_r or f.min_f or f.min_m:
        q.ctes.append(f"rfm AS ({RFM_SCORED})")
        q.joins.append("JOIN rfm ON rfm.member_id = u.member_id")
        if f.rfm_segments:
            q.where.append(f"rfm.segment = ANY({q.param(list(f.rfm_segments))}::text[])")
        for col, score in (("r", f.min_r), ("f", f.min_f), ("m", f.min_m)):
            if score:
                q.where.append(f"rfm.{col} >= {q.param(score)}")
    if f.states:
        states = STATES_TEMPLATE.format(
            stores="$1", as_of="$3", chain="$4", lookback=q.param(t.lookback_days),
            repeat=q.param(t.repeat_min_transactions), loyal=q.param(t.loyal_min_transactions),
            lapsing=q.param(t.lapsing_days), lost=q.param(t.lost_days),
        )  # fmt: skip
        q.ctes.append(f"st AS ({states})")
        q.joins.append("JOIN st ON st.member_id = u.member_id")
        q.where.append(f"st.state = ANY({q.param(list(f.states))}::text[])")
    return q


MEMBER_COLUMNS = """u.member_id, u.name, u.phone, u.tier, u.consent_marketing, u.consent_sms,
       coalesce(a.spend, 0) AS spend, coalesce(a.tx, 0) AS tx, a.last_day"""
MEMBER_ORDER = "ORDER BY coalesce(a.spend, 0) DESC, u.member_id"

INSERT_SEGMENT = """
INSERT INTO segment (id, store_id, name, filter, created_by) VALUES ($1, $2, $3, $4, $5)
RETURNING id, store_id, name, filter, created_at, updated_at
"""
UPDATE_SEGMENT = """
UPDATE segment SET name = $2, filter = $3, updated_at = now() WHERE id = $1
RETURNING id, store_id, name, filter, created_at, updated_at
"""
GET_SEGMENT = "SELECT id, store_id, name, filter, created_at, updated_at FROM segment WHERE id = $1"
LIST_SEGMENTS = """
SELECT id, store_id, name, filter, created_at, updated_at FROM segment
WHERE $1::bool OR store_id = $2 ORDER BY created_at DESC
"""

STAFF_OF_STORE = "SELECT id FROM staff WHERE id = ANY($1::uuid[]) AND store_id = $2 AND active"

INSERT_CAMPAIGN = """
INSERT INTO service_campaign (id, store_id, segment_id, name, kind, due_date, filter, created_by,
                              skipped_without_consent)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING created_at
"""
INSERT_TASKS = """
INSERT INTO service_task (id, campaign_id, store_id, member_id, staff_id, kind, due_date)
SELECT x.id, $2, $3, x.member_id, x.staff_id, $4, $5
FROM unnest($1::uuid[], $6::uuid[], $7::uuid[]) AS x(id, member_id, staff_id)
"""
LIST_CAMPAIGNS = """
SELECT c.id, c.store_id, c.segment_id, c.name, c.kind, c.due_date, c.created_at, c.skipped_without_consent,
       (SELECT count(*) FROM service_task t WHERE t.campaign_id = c.id AND t.follow_up_of IS NULL) AS tasks
FROM service_campaign c
WHERE $1::bool OR c.store_id = $2
ORDER BY c.created_at DESC
"""
CAMPAIGN_STORE = "SELECT store_id FROM service_campaign WHERE id = $1"

_TASK = """
SELECT t.id, t.campaign_id, c.name AS campaign, t.member_id, m.name AS member_name, m.phone, t.staff_id, t.kind,
       t.due_date, t.state, t.outcome, t.note, t.follow_up_of, t.done_at, t.store_id
FROM service_task t
JOIN service_campaign c ON c.id = t.campaign_id
JOIN member m ON m.id = t.member_id
"""
MY_TASKS = (
    _TASK
    + """
WHERE t.staff_id = $1 AND (cardinality($2::text[]) = 0 OR t.state = ANY($2::text[]))
ORDER BY t.state = 'open' DESC, t.due_date, t.created_at
"""
)
CAMPAIGN_TASKS = _TASK + "WHERE t.campaign_id = $1 ORDER BY t.due_date, t.created_at, t.id"
GET_TASK = _TASK + "WHERE t.id = $1"
LOCK_TASK = (
    "SELECT id, store_id, staff_id, state, kind, campaign_id, member_id FROM service_task WHERE id = $1 FOR UPDATE"
)
CLOSE_TASK = """
UPDATE service_task SET state = 'done', outcome = $2, note = $3, done_at = now(), done_by = $4 WHERE id = $1
"""
INSERT_FOLLOW_UP = """
INSERT INTO service_task (id, campaign_id, store_id, member_id, staff_id, kind, due_date, follow_up_of)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""

# $1 stores, $2 as-of day, $3 campaign (or NULL). A task converts when its member bought in the store on
# or after the local day it was done.
_RESULTS = """
WITH t AS (
    SELECT t.*, {key} AS key, {name} AS name,
           (SELECT sum(f.amount) FROM sales_ticket_fact f
            WHERE t.state = 'done' AND f.member_id = t.member_id AND f.store_id = t.store_id
              AND f.day >= (t.done_at AT TIME ZONE s.timezone)::date
            HAVING sum(f.tickets) > 0) AS conv
    FROM service_task t
    JOIN store s ON s.id = t.store_id
    {join}
    WHERE t.store_id = ANY($1::uuid[]) AND ($3::uuid IS NULL OR t.campaign_id = $3)
)
SELECT key, name, count(*) AS tasks, count(*) FILTER (WHERE state = 'done') AS done,
       count(*) FILTER (WHERE state = 'open') AS open,
       count(*) FILTER (WHERE state = 'open' AND due_date < $2) AS overdue,
       count(*) FILTER (WHERE outcome = 'reached') AS reached,
       count(*) FILTER (WHERE outcome = 'no_answer') AS no_answer,
       count(*) FILTER (WHERE outcome = 'declined') AS declined,
       count(*) FILTER (WHERE outcome = 'interested') AS interested,
       count(*) FILTER (WHERE outcome = 'purchased') AS purchased,
       count(*) FILTER (WHERE outcome = 'wrong_contact') AS wrong_contact,
       count(*) FILTER (WHERE follow_up_of IS NOT NULL) AS follow_ups,
       count(conv) AS converted, coalesce(sum(conv), 0)::bigint AS converted_spend
FROM t GROUP BY key, name ORDER BY key
"""
RESULTS_BY_STAFF = _RESULTS.format(key="st.code", name="st.name", join="JOIN staff st ON st.id = t.staff_id")
RESULTS_BY_CAMPAIGN = _RESULTS.format(
    key="c.id::text", name="c.name", join="JOIN service_campaign c ON c.id = t.campaign_id"
)
