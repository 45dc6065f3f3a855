"""Demo data: five made-up businesses on WhatsApp, the 90 days ending today.

Each tenant has its own timezone, outlets, weekly rhythm and opening hours. Most conversations
are answered by the LLM within seconds; some are handed to a human agent, who answers in
minutes, either because the customer asks for one (trigger `keyword`) or because the LLM is
unsure (trigger `confidence`); now and then the customer asks again while waiting.

Every calendar day of a tenant is a pure function of (tenant, date): its random generator is
seeded from both, and every id is a uuid5 of (tenant, date, number). Running `demo` again, the
same day or a later one, therefore writes identical rows for the days both runs cover (the
loader replaces rows by id) and only adds the new days: the numbers never change between runs.
A conversation's status follows from its own messages, never from its age, for the same reason
(the seed's example day, too, has old conversations still `active`).

Nothing is written after the current instant: a conversation not yet over at that instant is
left out until a later run, so the rows that are there never change.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import zlib
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crm_metrics.errors import InvalidParameter

if TYPE_CHECKING:
    from crm_metrics.service import Metrics

#: The namespace of every demo id; uuid5 keeps ids stable across runs and machines.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "demo.crm-metrics")
#: Conversations start in these local hours (06:00 up to 21:59), so that they are over
#: before local midnight: every message of a day's conversations falls on that day.
FIRST_HOUR = 6
HOURS = 16
LLM_SENDER = "demo-assistant"


def _id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(part) for part in parts)))


@dataclass(frozen=True)
class DemoTenant:
    id: str
    name: str
    timezone: str
    #: Outlet ids (uuid5 of tenant and outlet name); a few conversations have no outlet.
    outlets: tuple[str, ...]
    outlet_names: tuple[str, ...]
    #: Conversations on an average day.
    daily_conversations: int
    #: Volume factors, Monday to Sunday.
    weekly: tuple[float, ...]
    #: Relative weight of each local start hour, 06 to 21.
    hours: tuple[int, ...]
    #: Customer phones are this prefix and `phone_digits` more digits.
    phone_prefix: str
    phone_digits: int
    agents: tuple[str, ...]
    #: (customer question, LLM answer) pairs.
    topics: tuple[tuple[str, str], ...]
    #: Share of conversations handed off by keyword and by low confidence.
    keyword_handoffs: float
    confidence_handoffs: float


def _tenant(
    number: int,
    name: str,
    timezone: str,
    outlets: tuple[str, ...],
    **rest: Any,
) -> DemoTenant:
    tenant_id = f"00000000-0000-0000-0000-{number:012d}"
    return DemoTenant(
        id=tenant_id,
        name=name,
        timezone=timezone,
        outlets=tuple(_id(tenant_id, "outlet", outlet) for outlet in outlets),
        outlet_names=outlets,
        **rest,
    )


TENANTS: tuple[DemoTenant, ...] = (
    _tenant(
        1,
        "Acme Corp",
        "Asia/Jakarta",
        ("Grand Indonesia", "Pondok Indah Mall", "Tunjungan Plaza"),
        daily_conversations=70,
        weekly=(1.0, 0.95, 0.95, 1.0, 1.1, 1.35, 1.25),
        hours=(1, 2, 4, 6, 8, 9, 10, 9, 7, 6, 6, 7, 9, 10, 8, 5),
        phone_prefix="+62812",
        phone_digits=8,
        agents=("Putri", "Budi", "Sari", "Agus"),
        topics=(
            ("Is the Galaxy A55 still in stock?", "Yes, the Galaxy A55 is in stock in black and lilac, Rp 5,999,000."),
            ("Do you have 65W USB-C chargers?", "We do: the Anker 65W charger is Rp 549,000 and available in every store."),
            ("How long is the warranty on laptops?", "Laptops come with a 1-year official warranty; you can extend it to 3 years."),
            ("Can I pay in instalments?", "Yes, 0% instalments for 3, 6 or 12 months with most credit cards."),
            ("What time does the store close today?", "Our stores are open 10:00 to 22:00 every day."),
            ("Where is my order? It was supposed to arrive yesterday.", "Your parcel is with the courier and should arrive today before 18:00."),
        ),
        keyword_handoffs=0.07,
        confidence_handoffs=0.05,
    ),
    _tenant(
        2,
        "Northwind Dental",
        "America/New_York",
        ("Midtown", "Brooklyn Heights"),
        daily_conversations=30,
        weekly=(1.25, 1.15, 1.1, 1.1, 1.0, 0.45, 0.2),
        hours=(1, 4, 9, 10, 9, 8, 7, 8, 8, 7, 6, 4, 3, 2, 1, 1),
        phone_prefix="+1555",
        phone_digits=7,
        agents=("Dana", "Marcus", "Priya"),
        topics=(
            ("Can I book a cleaning next week?", "Sure! We have openings on Tuesday at 10:30 and Thursday at 15:00. Which suits you?"),
            ("Do you take Delta Dental insurance?", "Yes, we are in network with Delta Dental PPO."),
            ("How much is teeth whitening?", "In-office whitening is $450; take-home trays are $250."),
            ("I need to reschedule my appointment on Friday.", "No problem, I can move it. Would Monday at 9:00 work?"),
            ("Are you open on Saturdays?", "Our Midtown office is open Saturdays 9:00 to 13:00."),
        ),
        keyword_handoffs=0.10,
        confidence_handoffs=0.06,
    ),
    _tenant(
        3,
        "Bramble Bakery",
        "Europe/London",
        ("Borough Market", "Islington", "Richmond"),
        daily_conversations=25,
        weekly=(0.8, 0.8, 0.85, 0.9, 1.1, 1.5, 1.3),
        hours=(3, 6, 8, 7, 5, 5, 6, 5, 4, 5, 5, 4, 3, 2, 1, 1),
        phone_prefix="+447700900",
        phone_digits=3,
        agents=("Hannah", "Tom"),
        topics=(
            ("Can I order a birthday cake for Saturday?", "Yes! Celebration cakes need 48 hours' notice. Which flavour would you like?"),
            ("Do you have gluten-free bread?", "We bake a gluten-free seeded loaf every morning, GBP 5.50."),
            ("Are the cinnamon buns vegan?", "Our cinnamon buns contain butter, but the vegan cardamom knots are just as good."),
            ("Can I collect my order at Richmond instead?", "Of course, I've moved your collection to Richmond."),
            ("What time do you open on Sunday?", "We open at 8:00 on Sundays and close at 16:00."),
        ),
        keyword_handoffs=0.06,
        confidence_handoffs=0.04,
    ),
    _tenant(
        4,
        "Harbour Fitness",
        "Australia/Sydney",
        ("Bondi", "Surry Hills", "Parramatta", "Manly"),
        daily_conversations=35,
        weekly=(1.3, 1.2, 1.1, 1.0, 0.9, 0.7, 0.6),
        hours=(6, 7, 5, 3, 3, 4, 5, 4, 3, 3, 4, 6, 7, 6, 3, 1),
        phone_prefix="+6149157",
        phone_digits=4,
        agents=("Liam", "Chloe", "Jack", "Mia"),
        topics=(
            ("How much is a monthly membership?", "Monthly membership is $89 with no lock-in contract."),
            ("Can I freeze my membership while I travel?", "Yes, you can freeze it for up to 3 months a year for free."),
            ("Is there a spin class tomorrow morning?", "Tomorrow there is spin at 6:00 and 7:15; both have spots left."),
            ("Do you offer a free trial?", "You can try any club free for 7 days. Shall I send you a pass?"),
            ("Is the Manly pool open on public holidays?", "The Manly pool is open 7:00 to 17:00 on public holidays."),
        ),
        keyword_handoffs=0.08,
        confidence_handoffs=0.05,
    ),
    _tenant(
        5,
        "Casa Aurora",
        "America/Sao_Paulo",
        ("Paulista", "Pinheiros"),
        daily_conversations=45,
        weekly=(0.9, 0.9, 0.95, 1.0, 1.2, 1.4, 0.7),
        hours=(1, 2, 3, 5, 7, 8, 9, 8, 7, 7, 8, 9, 9, 8, 6, 3),
        phone_prefix="+55119",
        phone_digits=8,
        agents=("Ana", "Lucas", "Beatriz"),
        topics=(
            ("Do you have this dress in size M?", "Yes, size M is available in both stores and online."),
            ("Can I exchange a jacket I bought online?", "You can exchange it in any store within 30 days with the receipt."),
            ("Do you ship to Campinas?", "Yes, delivery to Campinas takes 2 business days, free above R$ 299."),
            ("Is the summer sale still on?", "The summer sale runs until Sunday: up to 50% off selected items."),
            ("Can I pay with Pix?", "Yes, Pix gets you 5% off at checkout."),
        ),
        keyword_handoffs=0.07,
        confidence_handoffs=0.06,
    ),
)

GREETINGS = ("Hi", "Hello", "Good morning", "Hey", "Hi there", "Hello, quick question")
FOLLOW_UPS = (
    ("Is it available at the {outlet} store?", "Yes, the {outlet} store has it today."),
    ("Can you deliver it?", "Yes, same-day delivery is available if you order before 14:00."),
    ("How much is it with delivery?", "Delivery is free above the minimum order; otherwise it is a small flat fee."),
    ("Can I reserve one?", "Done, it is reserved under your number for 24 hours."),
    ("What are your opening hours?", "We are open every day; the {outlet} store opens at 10:00."),
)
KEYWORD_ASKS = (
    "Can I talk to a human please?",
    "I want to speak to an agent",
    "Is there a real person I can talk to? Human please",
    "agent",
    "This isn't helping, connect me to a human",
)
HARD_QUESTIONS = (
    "My order arrived damaged and the invoice shows the wrong amount, what now?",
    "I was charged twice for the same purchase",
    "Can I get a refund on something I bought with a voucher from a different branch?",
    "Your colleague promised me a discount last week, can you apply it?",
)
THANKS = ("Thanks!", "Great, thank you", "ok thanks", "Perfect, thanks a lot", "👍")
#: Share of conversations with no outlet (they came in through ads or the main number).
NO_OUTLET_SHARE = 0.05
#: One conversation in this many opens with a marketing template (docs/costs.md: priced costs).
MARKETING_SHARE = 12


def local_today(tenant: DemoTenant, now: dt.datetime) -> dt.date:
    """The tenant's calendar date at `now`."""
    return now.astimezone(zoneinfo.ZoneInfo(tenant.timezone)).date()


def tenant_rows() -> list[dict[str, Any]]:
    return [{"id": t.id, "name": t.name, "timezone": t.timezone} for t in TENANTS]


def day_rows(tenant: DemoTenant, day: dt.date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The conversations and messages of one tenant's local calendar day: a pure function."""
    rng = random.Random(f"{tenant.id}/{day.isoformat()}")
    # A mild yearly swell on top of the weekly rhythm; both depend on the date only.
    mean = tenant.daily_conversations * tenant.weekly[day.weekday()]
    mean *= 1 + 0.1 * math.sin(2 * math.pi * day.timetuple().tm_yday / 365.25)
    count = max(2, round(rng.gauss(mean, math.sqrt(mean))))
    zone = zoneinfo.ZoneInfo(tenant.timezone)
    starts = sorted(
        rng.choices(range(HOURS), weights=tenant.hours)[0] * 3600 + rng.randrange(3600) for _ in range(count)
    )
    midnight = dt.datetime(day.year, day.month, day.day)
    conversations: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for number, second in enumerate(starts):
        local = midnight + dt.timedelta(hours=FIRST_HOUR, seconds=second)
        start = local.replace(tzinfo=zone).astimezone(dt.UTC)
        conversation, its_messages = _Conversation(rng, tenant, day, number, start, local.hour).build()
        conversations.append(conversation)
        messages.extend(its_messages)
    return conversations, messages


class _Conversation:
    """One conversation's script: messages as (seconds after start, sender, content, metadata)."""

    def __init__(self, rng: random.Random, tenant: DemoTenant, day: dt.date, number: int, start: dt.datetime, hour: int) -> None:
        self.rng = rng
        self.tenant = tenant
        self.id = _id(tenant.id, day.isoformat(), number)
        self.start = start
        self.hour = hour
        self.elapsed = 0.0
        self.script: list[tuple[float, str, str | None, str, dict[str, Any] | None]] = []
        self.agent: str | None = None
        if rng.random() < NO_OUTLET_SHARE:
            self.outlet: str | None = None
            self.outlet_name = "nearest"
        else:
            index = rng.randrange(len(tenant.outlets))
            self.outlet = tenant.outlets[index]
            self.outlet_name = tenant.outlet_names[index]
        # A pool of regulars: the same customer comes back now and then. The multiplier is
        # coprime with 10, so distinct customers get distinct, well spread numbers.
        customer = rng.randrange(tenant.daily_conversations * 40)
        number = (customer * 7_919_393 + 4_205_011) % 10**tenant.phone_digits
        self.phone = tenant.phone_prefix + str(number).zfill(tenant.phone_digits)

    # -- the script --------------------------------------------------------------------------

    def add(self, delay: float, sender: str, content: str, metadata: dict[str, Any] | None = None) -> None:
        # Whole milliseconds, at least one apart: (timestamp, id) order is the script's order.
        if self.script:
            self.elapsed = round(self.elapsed + max(delay, 0.001), 3)
        sender_id = {"customer": self.phone, "llm": LLM_SENDER, "agent": self.agent}.get(sender)
        self.script.append((self.elapsed, sender, sender_id, content, metadata))

    def customer(self, content: str, *, after: tuple[float, float] = (15, 240)) -> None:
        self.add(self.rng.uniform(*after), "customer", content)

    def llm(self, content: str, **metadata: Any) -> None:
        # The LLM answers 2 to 60 seconds after the customer, usually within ten.
        delay = min(60.0, max(2.0, self.rng.lognormvariate(math.log(7), 0.6)))
        tokens = int(self.rng.triangular(150, 1200, 380))
        # Priced costs (docs/costs.md): the prompt and the reply apart, and Meta's pricing
        # object; none of it draws from the generator, so every other figure stays as it was.
        output = tokens // 4
        pricing = self._pricing("llm")
        self.add(delay, "llm", content, {"tokens_used": tokens, "model": "gpt-4o-mini", "input_tokens": tokens - output, "output_tokens": output, "pricing": pricing, **metadata})

    def _pricing(self, sender: str) -> dict[str, Any]:
        """Meta's pricing object of the business's next message: replies within the customer
        service window are free; a share of conversations open with a marketing template (a
        promotion the customer answered) and system notices are utility templates. Picked by
        the conversation's id, not the generator."""
        if sender == "system":
            return {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "utility"}
        first_reply = not any(s in ("llm", "agent") for _, s, *_ in self.script)
        if first_reply and zlib.crc32(self.id.encode()) % MARKETING_SHARE == 0:
            return {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "marketing"}
        return {"billable": False, "pricing_model": "PMP", "type": "free_customer_service", "category": "service"}

    def agent_reply(self, content: str, *, first: bool = False) -> None:
        # Agents take minutes: the first answer after a handoff waits in the queue.
        delay = self.rng.lognormvariate(math.log(300 if first else 90), 0.6)
        self.add(min(delay, 1500 if first else 480), "agent", content, {"pricing": self._pricing("agent")})

    def build(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        rng = self.rng
        question, answer = rng.choice(self.tenant.topics)
        if rng.random() < 0.35:
            self.add(0, "customer", rng.choice(GREETINGS))
            self.customer(question, after=(3, 25))
        else:
            self.add(0, "customer", f"{rng.choice(GREETINGS)}! {question}")
        self.llm(answer)
        roll = rng.random()
        handoff = (
            "keyword"
            if roll < self.tenant.keyword_handoffs
            else "confidence"
            if roll < self.tenant.keyword_handoffs + self.tenant.confidence_handoffs
            else None
        )
        turns = rng.choices((0, 1, 2, 3, 4), weights=(30, 30, 20, 12, 8))[0]
        for _ in range(turns):
            ask, reply = rng.choice(FOLLOW_UPS)
            self.customer(ask.format(outlet=self.outlet_name))
            self.llm(reply.format(outlet=self.outlet_name))
        status = self.handoff(handoff) if handoff else self.close()
        return self.rows(status)

    def close(self) -> str:
        """The LLM handled it alone: resolved, or left active when the customer went quiet."""
        rng = self.rng
        # Evening chats are more often left open: the customer went to bed.
        if rng.random() < (0.18 if self.hour >= 19 else 0.07):
            return "active"
        ending = rng.random()
        if ending < 0.45:
            self.customer(rng.choice(THANKS), after=(5, 90))
            self.llm("You're welcome! Anything else I can help you with?")
        elif ending < 0.60:
            # A last "thanks" nobody answers: a customer turn without a reply.
            self.customer(rng.choice(THANKS), after=(5, 90))
        if rng.random() < 0.12:
            self.add(600, "system", "Conversation closed after 10 minutes of inactivity", {"event": "auto_close", "pricing": self._pricing("system")})
        return "resolved"

    def handoff(self, trigger: str) -> str:
        """Handed to an agent by keyword or by low confidence; sometimes asked for twice."""
        rng = self.rng
        if trigger == "keyword":
            self.customer(rng.choice(KEYWORD_ASKS))
            self.llm("Of course, I'm connecting you with one of our team now.", handoff_requested=True, trigger="keyword")
        else:
            self.customer(rng.choice(HARD_QUESTIONS))
            confidence = round(rng.uniform(0.12, 0.45), 2)
            self.llm(
                "I'm not completely sure about that, so let me bring in a colleague who can help.",
                handoff_requested=True,
                trigger="confidence",
                confidence=confidence,
            )
        self.add(1, "system", "Conversation transferred to the agent queue", {"event": "transfer", "pricing": self._pricing("system")})
        if rng.random() < 0.25:
            self.customer("Hello?? Still waiting for a human agent", after=(120, 420))
            self.llm("You're in the queue, an agent will be with you shortly.", handoff_requested=True, trigger="keyword")
        if rng.random() < 0.08:
            return "active"  # nobody has picked it up yet
        name = rng.choice(self.tenant.agents)
        self.agent = _id(self.tenant.id, "agent", name)
        self.agent_reply(f"Hi, this is {name} from {self.tenant.name}. Let me look into this for you.", first=True)
        for _ in range(rng.choices((1, 2, 3, 4), weights=(35, 35, 20, 10))[0]):
            self.customer(rng.choice(("Thank you", "Ok, here is my order number", "Sure", "When will it be fixed?")), after=(20, 240))
            self.agent_reply(rng.choice(("I've sorted it out for you.", "Thanks, checking now.", "It's done, you'll get a confirmation shortly.", "I've passed this to the store manager.")))
        return "resolved" if rng.random() < 0.3 else "handed_off"

    def rows(self, status: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        start = self.start
        messages: list[dict[str, Any]] = [
            {
                "id": _id(self.id, index),
                "conversation_id": self.id,
                "sender_type": sender,
                "sender_id": sender_id,
                "content": content,
                "timestamp": start + dt.timedelta(seconds=seconds),
                "metadata": metadata,
            }
            for index, (seconds, sender, sender_id, content, metadata) in enumerate(self.script)
        ]
        last = messages[-1]["timestamp"]
        ended = None if status == "active" else last + dt.timedelta(seconds=round(self.rng.uniform(5, 240), 3))
        conversation = {
            "id": self.id,
            "tenant_id": self.tenant.id,
            "outlet_id": self.outlet,
            "customer_phone": self.phone,
            "status": status,
            "started_at": start,
            "ended_at": ended,
            "last_message_at": last,
        }
        return conversation, messages


@dataclass(frozen=True)
class TenantData:
    tenant: DemoTenant
    conversations: list[dict[str, Any]]
    messages: list[dict[str, Any]]


def generate(today: dt.date | None = None, days: int = 90, *, now: dt.datetime | None = None) -> Iterator[TenantData]:
    """Each tenant's rows for the `days` local dates ending `today` (default: the tenant's
    date at `now`). Conversations not over by `now` (default: the current instant) are left out."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InvalidParameter("days", f"must be a whole number of days, at least 1, got {days!r}")
    return _generate(today, days, now or dt.datetime.now(dt.UTC))


def _generate(today: dt.date | None, days: int, now: dt.datetime) -> Iterator[TenantData]:
    for tenant in TENANTS:
        last = today or local_today(tenant, now)
        conversations: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []
        for offset in range(days - 1, -1, -1):
            day_conversations, day_messages = day_rows(tenant, last - dt.timedelta(days=offset))
            over = {c["id"] for c in day_conversations if (c["ended_at"] or c["last_message_at"]) <= now}
            conversations.extend(c for c in day_conversations if c["id"] in over)
            messages.extend(m for m in day_messages if m["conversation_id"] in over)
        yield TenantData(tenant, conversations, messages)


def write(
    metrics: Metrics,
    *,
    today: dt.date | None = None,
    days: int = 90,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Create the tables if missing and write the demo data; returns rows written per table.
    Rows already there with the same ids are updated in place (to identical values for days both runs cover)."""
    tenants = generate(today, days, now=metrics.clock())
    metrics.store.init_db()
    counts = {"tenants": metrics.store.load_rows("tenants", tenant_rows(), "demo tenants").rows}
    counts.update(conversations=0, messages=0)
    for data in tenants:
        counts["conversations"] += metrics.store.load_rows("conversations", data.conversations, f"demo {data.tenant.name}").rows
        counts["messages"] += metrics.store.load_rows("messages", data.messages, f"demo {data.tenant.name}").rows
        if progress:
            progress(f"{data.tenant.name}: {len(data.conversations):,} conversations, {len(data.messages):,} messages")
    return counts
