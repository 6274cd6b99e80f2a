"""A small department's week, built with the real runtime over the shipped workflows.

`department_week(db, clock)` publishes workflows/, makes the estate 示范花园 (buildings 1栋–3栋),
its staff (one user per role, two technicians, a cleaner) and then lives the week of Monday
2026-03-02 to Sunday 2026-03-08 step by step, the clock moved between steps and `tick` run so
that late work is escalated as it would be in production:

- complaints of several categories, severities and buildings: closed after a satisfied revisit,
  an unsatisfied revisit sent back through the project manager and leadership, one withdrawn,
  one closed after three unanswered revisit calls, one important complaint left unreported (late),
  three complaints on the same unit, and one registered the week before and still open;
- repairs: fixed the first time, redone after an unsatisfied revisit, one accepted late, one
  closed unreachable, one still open;
- a service request (intake) dispatched to the cleaner, finished and revisited;
- dunning: one case paid in two instalments, one with a partial payment still open;
- renovations on Sunday: one from permit to deposit refund (a violation on the way), one under
  rectification with its deposit held, one withdrawn before paying.

Every item made is recorded in a `Made` (what the test knows it did), so the test can compute the
figures itself and compare them with the shipped reports'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.access.actor import Actor, load_actor
from engine.clock import FixedClock
from engine.org import estates
from engine.runtime.items import ItemView, create, fire
from engine.runtime.registry import publish_folder
from engine.runtime.tick import tick
from engine.runtime.timers import Calendars
from engine.store.db import transaction
from engine.store.models import Item, User, UserEstate, UserRole
from tests._loaders import loader_of

SHIPPED = Path(__file__).resolve().parents[2] / "workflows"
ESTATE = "demo"
ESTATE_NAME = "示范花园"
WEEK_START = date(2026, 3, 2)
WEEK_END = date(2026, 3, 8)
MONDAY = datetime.fromisoformat("2026-03-02T09:00:00+08:00")
AFTER = datetime.fromisoformat("2026-03-09T10:00:00+08:00")
"""When the reports are computed: the Monday after the week."""
ROLES = ("frontdesk", "housekeeper", "cs_supervisor", "cs_manager", "project_manager", "branch_leader",
         "engineer", "engineering_lead", "security", "cleaning", "finance", "admin")
PEOPLE = {"tech_wang": ("王师傅", "engineer"), "tech_li": ("李师傅", "engineer"), "cleaner_zhao": ("赵保洁", "cleaning")}
"""Staff beyond the one-per-role: the people work is dispatched to (workload per person)."""
UNITS = {"1-1-101": "1栋", "1-1-102": "1栋", "2-1-201": "2栋", "2-1-202": "2栋", "3-1-301": "3栋"}


@dataclass
class Made:
    """One item made, and what was done to it (what the test knows without asking the engine)."""

    id: int
    workflow: str
    created: datetime
    unit: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    """The values the script chose (category, severity, department, handler, trade, area, engineer...)."""
    state: str = ""
    closed: datetime | None = None
    """When it entered its final state (None: still open)."""
    late: bool = False
    """A time limit of its own fell due unmet in the week."""
    satisfied: bool | None = None
    """The revisit that closed it: True 满意/较满意, False nobody answered; None: no closing revisit."""
    unsatisfied_revisit: datetime | None = None
    """When a revisit found the resident not satisfied (complaints: entered 回访不满意)."""
    redone: int = 0
    revisits: int = 0
    """Revisits that reached the resident (satisfied or not)."""
    failed_calls: int = 0
    firings: dict[str, int] = field(default_factory=dict)
    """Transition name → how many times it was fired (the script's own steps)."""
    collected: Decimal = Decimal(0)
    balance: Decimal | None = None


class Department:
    """The estate, its staff and the items of the week; methods to create and fire as a person."""

    def __init__(self, db: Any, clock: FixedClock) -> None:
        self.db = db
        self.clock = clock
        self.calendars = Calendars(SHIPPED)
        self.users: dict[str, int] = {}
        self.items: list[Made] = []
        with transaction(db.factory) as session:
            publish_folder(session, SHIPPED, loader=loader_of(SHIPPED), now=clock.now())
            system = Actor.system()
            estates.save_estate(session, system, ESTATE, name=ESTATE_NAME)
            for number, building in UNITS.items():
                estates.save_unit(session, system, ESTATE, number, building=building)
            accounts = {role: (f"{role}（示范）", role) for role in ROLES} | PEOPLE
            for username, (name, role) in accounts.items():
                user = User(username=username, display_name=name)
                session.add(user)
                session.flush()
                session.add_all([UserRole(user_id=user.id, estate_id=ESTATE, role=role),
                                 UserEstate(user_id=user.id, estate_id=ESTATE)])
                self.users[username] = user.id

    # -- acting -----------------------------------------------------------------------------------

    def actor(self, username: str) -> Actor:
        with self.db.factory() as session:
            return load_actor(session, self.users[username])

    def at(self, moment: str) -> None:
        """Move the clock to a local time of the week (`03-04 10:00`) and let the timers run."""
        self.clock.set(datetime.fromisoformat(f"2026-{moment.replace(' ', 'T')}:00+08:00"))
        tick(self.db.factory, self.clock, calendars=self.calendars)

    def create(self, workflow: str, by: str, unit: str | None = None, **values: Any) -> Made:
        data = dict(values) | ({"unit": unit} if unit else {})
        with transaction(self.db.factory) as session:
            view = create(session, workflow=workflow, estate=ESTATE, actor=self.actor(by), data=data,
                          clock=self.clock, calendars=self.calendars)
        made = Made(view.id, workflow, self.clock.now(), unit, dict(values), view.state)
        self.items.append(made)
        return made

    def fire(self, made: Made, name: str, by: str, **data: Any) -> ItemView:
        with transaction(self.db.factory) as session:
            view = fire(session, made.id, name, self.actor(by), data, clock=self.clock, calendars=self.calendars)
        made.firings[name] = made.firings.get(name, 0) + 1
        made.state = view.state
        if view.state in FINAL[made.workflow]:
            made.closed = self.clock.now()
        return view

    def user(self, username: str) -> str:
        """A user field's value: the username (the runtime checks they work here in one of its roles)."""
        assert username in self.users
        return username

    def name(self, username: str) -> str:
        """The display name a report shows for a person."""
        return PEOPLE[username][0] if username in PEOPLE else f"{username}（示范）"

    def of(self, workflow: str) -> list[Made]:
        return [m for m in self.items if m.workflow == workflow]

    def refresh(self) -> None:
        """Each item's state as stored now (timers may have moved some since the script's last step)."""
        with self.db.engine.connect() as connection:
            states = dict(connection.execute(select(Item.id, Item.state)).tuples().all())
        for made in self.items:
            made.state = states[made.id]


FINAL: Mapping[str, frozenset[str]] = {
    "complaint": frozenset({"archived", "withdrawn"}),
    "repair": frozenset({"closed", "cancelled"}),
    "intake": frozenset({"transferred", "acknowledged", "referred", "answered", "closed"}),
    "dunning": frozenset({"paid", "written_off", "cancelled"}),
    "renovation": frozenset({"closed", "withdrawn"}),
}

# -- complaints ---------------------------------------------------------------------------------


def _complaint(d: Department, unit: str, category: str, severity: str = "minor") -> Made:
    return d.create("complaint", "frontdesk", unit, channel="phone", category=category, severity=severity,
                    description="楼道灯不亮，多次反映未修")


def _handle(d: Department, c: Made, department: str, handler: str) -> None:
    """Dispatch a minor complaint, report back and reply: it is then 待回访."""
    d.fire(c, "dispatch", "cs_supervisor", department=department, handler=d.user(handler))
    c.values |= {"department": department, "handler": handler}
    d.fire(c, "feed_back", "cs_supervisor", feedback="已处理")
    d.fire(c, "reply", "frontdesk", reply_channel="phone")


def _revisit(d: Department, c: Made, satisfaction: str) -> None:
    d.fire(c, "revisit", "frontdesk", revisit_method="phone", satisfaction=satisfaction, revisit_note="回访")
    c.revisits += 1
    if satisfaction == "unsatisfied":
        c.unsatisfied_revisit = d.clock.now()
    else:
        c.satisfied = True


def _unreachable(d: Department, c: Made) -> None:
    for _ in range(3):
        d.fire(c, "revisit_failed", "frontdesk")
        c.failed_calls += 1
    d.fire(c, "close_unreachable", "cs_supervisor", revisit_note="三次电话无人接听")
    c.satisfied = False


def complaints(d: Department) -> None:
    """The week's complaints (and one of the week before, still open)."""
    d.at("02-25 10:00")
    old = _complaint(d, "3-1-301", "property")                        # last week's, still being handled
    d.fire(old, "dispatch", "cs_supervisor", department="cleaning", handler=d.user("cleaner_zhao"))
    old.values |= {"department": "cleaning", "handler": "cleaner_zhao"}
    d.at("03-02 09:30")
    a = _complaint(d, "1-1-101", "engineering")                       # satisfied at the first revisit
    b = _complaint(d, "1-1-101", "engineering")                       # same unit: not satisfied, handled again
    e = _complaint(d, "1-1-101", "property")                          # same unit again: withdrawn
    f = _complaint(d, "2-1-201", "service")                           # nobody answers the revisit
    h = _complaint(d, "3-1-301", "engineering", severity="important")  # never passed on within the hour
    k = _complaint(d, "2-1-201", "other")                             # 较满意
    d.at("03-02 10:00")
    _handle(d, a, "engineering", "tech_wang")
    _handle(d, b, "engineering", "tech_li")
    _handle(d, f, "customer_service", "housekeeper")
    _handle(d, k, "security", "security")
    d.fire(e, "withdraw", "cs_supervisor", withdraw_reason="业主表示已自行解决")
    d.at("03-02 11:00")
    _revisit(d, a, "satisfied")
    _revisit(d, b, "unsatisfied")
    _revisit(d, k, "fairly")
    d.fire(e, "confirm_withdraw", "frontdesk", withdraw_confirmation="recorded", revisit_method="phone",
           revisit_note="业主确认撤诉")
    _unreachable(d, f)
    # 回访不满意 → 项目经理 → 领导批示 → handled again as an important complaint; its 3 days from the
    # new dispatch run out on Thursday 15:00 (unfinished after 3 days: late).
    d.at("03-02 14:00")
    d.fire(b, "submit_instruction", "project_manager", supervisor_opinion="需更换灯具")
    d.at("03-02 15:00")
    d.fire(b, "instruct", "branch_leader", instruction="两日内整改到位", department="engineering",
           handler=d.user("tech_li"))
    b.values["severity"] = "important"
    b.late = True
    # The important complaint h waits in 已受理登记 past its hour (10:30): late.
    h.late = True


# -- repairs ------------------------------------------------------------------------------------


def _repair(d: Department, unit: str, trade: str, area: str = "in_unit") -> Made:
    return d.create("repair", "frontdesk", unit, channel="phone", description="卫生间漏水", area=area, trade=trade,
                    priority="normal", repair_scale="small")


def _work(d: Department, r: Made, engineer: str) -> None:
    """Accept, arrive and complete a free repair at once: it is then 待回访."""
    d.fire(r, "accept", engineer)
    d.fire(r, "arrive", engineer)
    d.fire(r, "complete", engineer, work_done="更换密封圈", materials="密封圈1个")


def _dispatch(d: Department, r: Made, engineer: str) -> None:
    d.fire(r, "dispatch", "frontdesk", area=r.values["area"], trade=r.values["trade"], engineer=d.user(engineer))
    r.values["engineer"] = engineer


def _repair_revisit(d: Department, r: Made, satisfaction: str) -> None:
    d.fire(r, "revisit", "frontdesk", revisit_method="phone", satisfaction=satisfaction, revisit_note="回访")
    r.revisits += 1
    if satisfaction == "unsatisfied":
        r.redone += 1
        r.unsatisfied_revisit = d.clock.now()
    else:
        r.satisfied = True


def repairs(d: Department) -> None:
    d.at("03-03 09:00")
    p = _repair(d, "1-1-102", "plumbing")                  # fixed the first time
    q = _repair(d, "2-1-202", "plumbing")                  # redone after an unsatisfied revisit
    s = _repair(d, "3-1-301", "electrical")                # accepted an hour late
    u = _repair(d, "2-1-201", "door_window")               # revisit: nobody answers
    v = _repair(d, "1-1-101", "electrical", area="public")  # still on site at the week's end (late)
    for repair, engineer in ((p, "tech_wang"), (q, "tech_li"), (s, "tech_wang"), (u, "tech_li"), (v, "tech_li")):
        _dispatch(d, repair, engineer)
    d.at("03-03 09:10")
    for repair, engineer in ((p, "tech_wang"), (q, "tech_li"), (u, "tech_li")):
        _work(d, repair, engineer)
    d.fire(v, "accept", "tech_li")
    d.fire(v, "arrive", "tech_li")
    v.late = True                                          # unfinished 3 days after dispatch (Friday 09:00)
    d.at("03-03 10:10")                                    # 一般: accept within 30 minutes of dispatch
    _work(d, s, "tech_wang")
    s.late = True
    d.at("03-04 10:00")
    _repair_revisit(d, p, "satisfied")
    _repair_revisit(d, q, "unsatisfied")
    _repair_revisit(d, s, "fairly")
    _unreachable(d, u)
    d.at("03-04 10:10")
    _work(d, q, "tech_li")
    d.at("03-05 10:00")
    _repair_revisit(d, q, "satisfied")


# -- a service request, and dunning -------------------------------------------------------------


def service(d: Department) -> None:
    d.at("03-05 14:00")
    w = d.create("intake", "frontdesk", "2-1-202", channel="phone", kind="service", description="楼道有垃圾")
    d.fire(w, "dispatch", "frontdesk", department="cleaning", handler=d.user("cleaner_zhao"))
    w.values |= {"department": "cleaning", "handler": "cleaner_zhao"}
    d.clock.advance(timedelta(minutes=30))
    d.fire(w, "finish", "cleaner_zhao", result="已清理")
    d.clock.advance(timedelta(minutes=30))
    d.fire(w, "revisit", "frontdesk", revisit_method="phone", satisfaction="satisfied", revisit_note="满意")
    w.revisits += 1
    w.satisfied = True


def dunning(d: Department) -> None:
    d.at("03-06 09:00")
    x = d.create("dunning", "finance", "1-1-102", fee_type=_fee_type(), period="2025年物业费", amount="2400",
                 due_date="2026-02-28")
    y = d.create("dunning", "finance", "3-1-301", fee_type=_fee_type(), period="2025年物业费", amount="1800",
                 due_date="2026-02-28")
    for case in (x, y):
        d.fire(case, "verify", "finance", service_check="无服务问题")
    d.at("03-06 11:00")
    d.fire(x, "pay", "finance", payment="1000", payment_receipt="R001")
    d.fire(y, "pay", "finance", payment="500", payment_receipt="R002")
    d.at("03-06 15:00")
    d.fire(x, "pay", "finance", payment="1400", payment_receipt="R003")
    x.collected, x.balance = Decimal(2400), Decimal(0)
    y.collected, y.balance = Decimal(500), Decimal(1300)


def _renovation(d: Department, unit: str, deposit: str | None) -> Made:
    """An application for routine works (no structure, gas, water or power), approved by customer
    service; with `deposit`, its fees are paid and the permit issued."""
    r = d.create("renovation", "frontdesk", unit, owner_name="业主", contractor="美家装饰", scope="墙面刷漆、铺地板",
                 drawings="装修平面图", touches_structure=False, touches_gas=False, touches_water=False,
                 touches_electric=False, start_date="2026-03-09", end_date="2026-06-30")
    d.fire(r, "cs_approve", "cs_supervisor", cs_opinion="常规装修，同意")
    if deposit is not None:
        d.fire(r, "confirm_fees", "finance", deposit_amount=deposit, mgmt_fee="300", debris_fee="200",
               receipt_no=f"ZX-{unit}")
        d.fire(r, "issue_permit", "frontdesk", permit_no=f"XK-{unit}", agreement_signed=True)
        r.values["deposit_amount"] = Decimal(deposit)
    return r


def renovations(d: Department) -> None:
    """Sunday: one renovation from permit to refund, one under rectification, one withdrawn."""
    d.at("03-08 09:00")
    done = _renovation(d, "1-1-102", "5000")
    rectifying = _renovation(d, "2-1-202", "3000")
    withdrawn = _renovation(d, "3-1-301", None)
    for r in (done, rectifying):
        d.fire(r, "record_violation", "housekeeper", violation_note="擅自拆除阳台墙体", rectify_deadline="2026-03-12")
    d.fire(withdrawn, "withdraw", "frontdesk", withdraw_reason="业主暂缓装修")
    d.fire(done, "rectified", "housekeeper", rectification_note="已恢复原状")
    d.fire(done, "request_inspection", "frontdesk")
    d.fire(done, "pass_inspection", "cs_supervisor", inspection_note="验收合格")
    d.fire(done, "reinspect", "cs_supervisor", reinspection_note="无渗漏")
    d.fire(done, "refund", "finance", refund_amount="4800", deductions="200", deduction_reason="损坏公共墙面",
           refund_receipt="TK-001")
    done.values |= {"refund_amount": Decimal(4800), "deductions": Decimal(200)}


def _fee_type() -> str:
    """The first fee type of the shipped dunning workflow (property fees)."""
    return "property"


def department_week(db: Any, clock: FixedClock) -> Department:
    """The whole week, then the clock at the Monday after (every timer of the week has run)."""
    d = Department(db, clock)
    complaints(d)
    repairs(d)
    service(d)
    dunning(d)
    renovations(d)
    d.at("03-09 10:00")
    d.refresh()
    return d
