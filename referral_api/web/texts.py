"""Staff texts chosen by a code (a status, a role, an error code): English msgids of the `staff`
gettext domain, marked with `N_` so `make i18n` extracts them; translated when shown
(`StaffTexts.label`). Texts written in a template are `{{ _("…") }}` calls in the template.
"""

from __future__ import annotations


def N_(message: str) -> str:  # gettext convention: mark for extraction, do not translate
    return message


STATUS = {
    "new": N_("New"),
    "accepted": N_("Accepted"),
    "contacted": N_("Contacted"),
    "unreachable": N_("Could not reach"),
    "returned": N_("Returned"),
    "closed": N_("Closed"),
    "cancelled": N_("Cancelled"),
}
ACTION = {
    "accepted": N_("Accept"),
    "contacted": N_("Contacted"),
    "unreachable": N_("Could not reach"),
    "returned": N_("Returned"),
    "closed": N_("Close"),
}
CONTACT_MODE = {
    "telegram": N_("Telegram message"),
    "phone": N_("Phone call"),
    "visit": N_("Visit"),
}
ROLE = {
    "counsellor": N_("Counsellor"),
    "coordinator": N_("Coordinator"),
    "admin": N_("Admin"),
    "translator": N_("Translator"),
}
REVIEW = {"approved": N_("approved"), "corrected": N_("corrected")}
REINTEGRATION_PARTNER = {"caritas": N_("Caritas"), "iom": N_("IOM")}
PARTNER_KIND = {
    "return_desk": N_("Return desk"),
    "city_partner": N_("City partner"),
    "ngo": N_("NGO"),
    "intl_org": N_("International organisation"),
}
SERVICE = {
    "general": N_("General information"),
    "medical": N_("Medical needs"),
    "families": N_("Families"),
    "minors": N_("Minors"),
    "trafficking": N_("Victims of trafficking"),
    "shelter": N_("Shelter"),
}
ACCESS = {"walk_in": N_("Walk-in, no appointment"), "appointment": N_("By appointment only"),
          "both": N_("Walk-in and by appointment")}
DAY_PART = {"morning": N_("Morning"), "afternoon": N_("Afternoon"), "day": N_("All day")}
TRI_STATE = {"yes": N_("Yes"), "no": N_("No")}
WEEKDAY = {
    "0": N_("Monday"), "1": N_("Tuesday"), "2": N_("Wednesday"), "3": N_("Thursday"),
    "4": N_("Friday"), "5": N_("Saturday"), "6": N_("Sunday"),
}
NOTICE = {
    "saved": N_("Saved."),
    "sent": N_("Message queued for the person."),
    "created_ok": N_("Account created."),
    "campaign_created": N_("The campaign was created."),
    "campaign_deactivated": N_("Campaign stopped: the bot no longer accepts its code."),
    "campaign_reactivated": N_("Campaign restarted: the bot accepts its code again."),
    "counsellor_added": N_("Counsellor added."),
    "counsellor_removed": N_("Counsellor removed."),
    "partner_created": N_("Partner created. Add its opening hours below."),
    "availability_saved": N_("Opening hours saved."),
    "cards_released": N_("Saved. The referral cards that were waiting are being sent to the "
                         "partner's Telegram group."),
    "deactivated": N_("Account deactivated. It was logged out everywhere."),
    "reactivated": N_("Account reactivated."),
    "account_updated": N_("Account saved."),
    "password_changed": N_("Password changed. Please log in with the new password."),
    "password_reset": N_("New password set. The account was logged out everywhere."),
    "translation_saved": N_("Saved. The bot shows it once the team imports the reviews."),
    "voice_saved": N_("Recording saved. The bot offers it on this screen."),
    "languages_saved": N_("Languages saved."),
}
ERROR = {
    "error": N_("Something is wrong with this request."),
    "not_found": N_("Not found."),
    "forbidden": N_("Not allowed."),
    "login_failed": N_("E-mail address or password is wrong."),
    "too_many": N_("Too many attempts. Please wait a moment and try again."),
    "busy": N_("Many people are logging in right now. Please try again in a minute."),
    "invalid_email": N_("This e-mail address is not valid."),
    "weak_password": N_("Choose a password of at least 12 characters that is hard to guess: "
                        "not a common password and not your e-mail address. A few unrelated "
                        "words work well."),
    "partner_required": N_("A counsellor needs a partner."),
    "unknown_partner": N_("Unknown partner."),
    "email_taken": N_("An account with this e-mail address exists."),
    "invalid_text": N_("Write a message of at most 2000 characters."),
    "referral_cancelled": N_("The person cancelled this request. Nothing was sent."),
    "referral_closed": N_("This request is closed. Nothing was sent."),
    "too_many_messages": N_("Too many messages for this request in the last hour. Nothing "
                            "was sent; please wait."),
    "invalid_country": N_("Choose a destination country from the list."),
    "invalid_return_date": N_("Enter a return date from the last two years up to 60 days "
                              "from today."),
    "invalid_reintegration_partner": N_("Choose Caritas or IOM."),
    "invalid_telegram_id": N_("A Telegram user id is a positive whole number."),
    "cannot_deactivate_self": N_("You cannot deactivate your own account."),
    "cannot_change_own_role": N_("You cannot change your own role."),
    "wrong_password": N_("Your current password is not right."),
    "form_invalid": N_("Please correct the fields marked below."),
    "invalid_languages": N_("Give language codes of the bot, separated by commas (like ar, "
                            "fa_AF)."),
    "languages_required": N_("A translator needs at least one language."),
    "placeholders_differ": N_("Keep every {name} in curly brackets exactly as in the English."),
    "label_too_long": N_("A button's text may have at most 30 characters, on one line."),
    "invalid_translation": N_("Write the translation (at most 4000 characters)."),
    "left_in_english": N_("This is the English text: write it in the language."),
    "glossary_word": N_("Use the approved word of the glossary for the programme's terms "
                        "(voluntary return, return desk, counsellor, trafficking …)."),
    "invalid_voice": N_("Upload a voice recording as OGG with Opus (as Telegram records voice "
                        "messages)."),
    "voice_too_large": N_("The recording is too large (at most 1 MB)."),
    "voice_too_long": N_("The recording must last between half a second and two minutes."),
}
# Field errors of the partner forms: one clear sentence per field, whatever was wrong.
FIELD_ERROR = {
    "id": N_("Use 1 to 64 lowercase letters, digits and single hyphens, like “desk-gent”."),
    "id_taken": N_("A partner with this id exists already."),
    "name": N_("Enter a name of at most 200 characters."),
    "kind": N_("Choose a kind from the list."),
    "city": N_("Enter a city of at most 100 characters."),
    "postal_code": N_("Enter a Belgian postcode of 4 digits."),
    "unknown_postcode": N_("This postcode is not a Belgian postcode we know."),
    "address": N_("Enter an address of at most 300 characters."),
    "coordinates": N_("Enter both latitude and longitude as decimal numbers, or leave both "
                      "empty to use the centre of the postcode."),
    "outside_belgium": N_("These coordinates are not in Belgium."),
    "phone": N_("Enter a phone number of at most 50 characters."),
    "hours": N_("Enter opening hours of at most 2000 characters."),
    "access": N_("Choose from the list."),
    "opening": N_("Write hours like “9:00-12:00” or “9:00-12:00, 13:00-16:00”, each end after "
                  "its start."),
    "opening_both": N_("Choose a part of the day or write hours, not both."),
    "opening_grid": N_("Check the opening hours: at most 28 windows."),
    "opening_as_of": N_("Write the year the hours were published, like “2015”, or “2015-06”."),
    "interpreter": N_("Choose from the list."),
    "accessible": N_("Choose from the list."),
    "notes": N_("One note per line, starting with the language code, like “fr: Sur rendez-vous "
                "l'après-midi.”, at most 300 characters each."),
    "languages": N_("Enter language codes separated by commas, like “nl, fr, ar”."),
    "services": N_("Choose services from the list."),
    "notification_chat_id": N_("A Telegram group chat id is a whole number, like "
                               "-1001234567890, or empty."),
    "slot_minutes": N_("Enter a whole number of minutes from 5 to 240."),
    "capacity_per_slot": N_("Enter a whole number of people from 1 to 50."),
    "source": N_("Enter a source of at most 2000 characters."),
    "window": N_("Choose a day, and a start time before the end time."),
    "overlap": N_("This window overlaps another window on the same day."),
}
# Referral cards in the partners' Telegram groups (referral_api.referrals.cards)
CARD = {
    "new": N_("New referral %(ref)s"),
    "update": N_("Referral %(ref)s"),
    "status": N_("Status"),
    "language": N_("Language"),
    "contact": N_("Contact"),
    "interpreter": N_("Interpreter"),
    "topic": N_("Topic"),
    "flags": N_("Flags"),
    "name": N_("Name"),
    "reference": N_("Reference"),
    "yes": N_("yes"),
    "no": N_("no"),
    "none": N_("none"),
    "phone": N_("phone call to %(phone)s"),
    "visit": N_("visit on %(when)s (Brussels time)"),
    "telegram": N_("Telegram message through the bot"),
    "web": N_("message through the web chat (the person reads it when they come back to "
              "the page)"),
    "withdrawn": N_("Withdrawn: the person asked us to delete their data. Please do not "
                    "contact them about this referral, and delete any notes you made."),
    "message": N_("Message about %(ref)s"),
    "alert": N_("Undeliverable referral %(ref)s"),
    "alert_text": N_("%(partner)s (%(id)s) has no notification chat. Set one, or contact "
                     "the partner yourself."),
    "minor": N_("⚠️ Under 18 and alone in Belgium: the guardian decides with the young "
                "person. Contact the guardian."),
    "for": N_("For"),
    "shared": N_("Shared by the person"),
    "nothing_shared": N_("nothing"),
    "changed": N_("%(status)s, by %(who)s, %(when)s"),
    "by_telegram": N_("a counsellor in this group"),
    "by_person": N_("the person"),
    "cancelled": N_("Withdrawn: the person cancelled this contact. Their phone number is no "
                    "longer shown."),
    "purged": N_("Withdrawn: closed long enough ago that the person's details were deleted "
                 "(retention period)."),
    "withdrawn_status": N_("Withdrawn"),
    "confirm": N_("%(ref)s: %(status)s"),
}
# What the person chose to share in the screening (flags of bot/screening.py), in plain words.
FLAG = {
    "minor": N_("Under 18 and alone in Belgium"),
    "trafficking": N_("May be exploited or not free to leave"),
    "medical": N_("Medical treatment must continue"),
    "pregnant": N_("Pregnant"),
    "older_65": N_("65 or older"),
    "children": N_("Has children with them"),
    "children_1": N_("1 child"),
    "children_2": N_("2 children"),
    "children_3plus": N_("3 or more children"),
    "children_under_6": N_("under 6"),
    "children_6_12": N_("6 to 12 years old"),
    "children_13_17": N_("13 to 17 years old"),
    "children_mixed_ages": N_("of different ages"),
}
# Who changed a referral, in its history (referral_api.referrals.staff.actor_name)
ACTOR = {
    "person": N_("The person"),
    "system": N_("Automatic"),
    "counsellor": N_("A counsellor in the Telegram group"),
    "staff": N_("A staff member"),
}
PROVINCE = {
    "BRU": N_("Brussels-Capital"),
    "VAN": N_("Antwerp"), "VLI": N_("Limburg"), "VOV": N_("East Flanders"),
    "VBR": N_("Flemish Brabant"), "VWV": N_("West Flanders"),
    "WBR": N_("Walloon Brabant"), "WHT": N_("Hainaut"), "WLG": N_("Liège"),
    "WLX": N_("Luxembourg"), "WNA": N_("Namur"),
}
# The channel a person wrote on: a dimension of the signals report (bot.channels)
CHANNEL = {"telegram": N_("Telegram"), "web": N_("Web chat")}
# Why a new referral is on the Alerts page (referral_api.referrals.alerts)
ALERT_REASON = {
    "no_group": N_("The partner has no Telegram group"),
    "not_delivered": N_("The card could not be delivered to the partner's Telegram group"),
}
CARD_STATUS = {**STATUS, "cancelled": N_("Cancelled by the person")}
CARD_BUTTON = {  # the group's buttons, in this order
    "accepted": N_("Accept"), "contacted": N_("Contacted"),
    "unreachable": N_("Could not reach"), "closed": N_("Closed"),
}
TOPIC = {
    "information": N_("Information about voluntary return"),
    "apply": N_("Applying for voluntary return"),
    "travel_documents": N_("Travel documents"),
    "reintegration": N_("Reintegration support"),
    "medical": N_("Medical needs"),
    "family": N_("Family"),
    "other": N_("Other"),
}

LABELS: dict[str, dict[str, str]] = {
    "status": STATUS, "action": ACTION, "contact_mode": CONTACT_MODE, "role": ROLE,
    "reintegration_partner": REINTEGRATION_PARTNER, "kind": PARTNER_KIND, "service": SERVICE,
    "weekday": WEEKDAY, "access": ACCESS, "day_part": DAY_PART, "tri_state": TRI_STATE,
    "notice": NOTICE, "error": ERROR, "field": FIELD_ERROR,
    "card_status": CARD_STATUS, "review": REVIEW, "card_button": CARD_BUTTON, "topic": TOPIC,
    "alert_reason": ALERT_REASON, "flag": FLAG, "actor": ACTOR, "province": PROVINCE,
    "channel": CHANNEL,
}
