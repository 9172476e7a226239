"""The booking feature's part of the flows (flows/booking.yaml, flows/mycontact.yaml): the
getters, readers, conditions and actions they name."""

from __future__ import annotations

from bot.booking import mycontact, search, submit
from bot.engine.actions import ActionRegistry

PARTNER_ID_BYTES = 40  # partner ids are slugs; the API refuses longer ones
REFERENCE_BYTES = 12


def register(registry: ActionRegistry) -> None:
    api = ("unavailable",)
    submitting = ("invalid", "taken", "refused", "already", "too_many", *api)
    registry.reader("location", search.read_location, outcomes=("cancel",))
    registry.reader("postcode", search.read_postcode, outcomes=("invalid",))
    registry.reader("phone", submit.read_phone, outcomes=submitting)
    registry.reader("new_phone", mycontact.read_new_phone,
                    outcomes=("invalid", "gone", "lost", *api))
    registry.reader("relay", mycontact.read_relay,
                    outcomes=("empty", "too_long", "gone", "lost", *api))
    registry.getter("cities", search.cities, search.cities_sample, fields=("name",),
                    id_bytes=4, outcomes=api)
    registry.getter("places", search.places, search.places_sample, provides=("place",),
                    fields=("n", "name"), id_bytes=PARTNER_ID_BYTES,
                    outcomes=("lost", "none_for_minors", *search.SEARCH_REFUSALS, *api))
    registry.getter("partner", search.partner, search.partner_sample,
                    outcomes=("lost", "gone", *api))
    registry.getter("free_slots", submit.free_slots, submit.slots_sample, fields=("time",),
                    id_bytes=8, outcomes=("lost", "gone", *api))
    registry.getter("consent", submit.consent, submit.consent_sample,
                    provides=("partner", "days", "summary"), outcomes=("lost", "gone", *api))
    registry.getter("retention", submit.retention, submit.retention_sample, provides=("days",))
    registry.getter("sensitive", submit.sensitive, submit.sensitive_sample,
                    provides=("partner", "told"), outcomes=("lost", "gone", *api))
    registry.getter("booked", submit.booked, submit.booked_sample,
                    provides=("partner", "reference", "time"), outcomes=("lost",))
    registry.condition("told_sensitive", submit.told_sensitive)
    registry.condition("on_telegram", submit.on_telegram)
    registry.condition("is_minor", submit.is_minor)
    registry.register("book", submit.book, outcomes=submitting)
    registry.register("clear_booking", submit.clear_booking)
    registry.register("booking_lost", submit.booking_lost, outcomes=("not_sent",))
    registry.getter("my_contacts", mycontact.my_contacts, mycontact.my_contacts_sample,
                    fields=("reference", "partner"), id_bytes=REFERENCE_BYTES, outcomes=api)
    registry.getter("contact", mycontact.contact, mycontact.contact_sample,
                    provides=("reference", "details"), outcomes=("lost", "gone", *api))
    registry.getter("contact_slots", mycontact.contact_slots, mycontact.contact_slots_sample,
                    fields=("time",), id_bytes=8, outcomes=("lost", "gone", *api))
    registry.register("cancel_contact", mycontact.cancel_contact,
                      outcomes=("lost", "gone", *api))
    registry.register("reschedule_contact", mycontact.reschedule_contact,
                      outcomes=("taken", "lost", "gone", *api))
