"""Strings of the staff pages in Dutch, French and English.

A small dictionary keyed by the account's locale (decision for the first slice; the bot's
gettext/Babel workflow can replace it later without touching the templates, which only call
`t(key)`). A missing key falls back to English, then to the key itself.
"""

from __future__ import annotations

from collections.abc import Callable

LOCALES = ("nl", "fr", "en")
DEFAULT_LOCALE = "en"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "app_name": "CONEX staff",
        "login": "Log in", "logout": "Log out", "email": "E-mail address",
        "password": "Password", "login_failed": "E-mail address or password is wrong.",
        "too_many": "Too many failed attempts. Please wait 15 minutes and try again.",
        "inbox": "Inbox", "accounts": "Accounts",
        "tab_new": "New", "tab_accepted": "Accepted", "tab_contacted": "Contacted",
        "tab_closed": "Closed", "empty": "Nothing here.",
        "reference": "Reference", "partner": "Partner", "status": "Status",
        "contact_mode": "Contact", "slot": "Appointment", "language": "Language",
        "interpreter": "Interpreter needed", "topic": "Topic", "created": "Received",
        "yes": "Yes", "no": "No", "name": "Name", "phone": "Phone",
        "facts": "Request", "history": "Status history", "conversation": "Conversation",
        "no_messages": "No messages yet.", "from_person": "Person", "from_us": "Us",
        "send_message": "Send a message to the person", "message": "Message", "send": "Send",
        "actions": "Actions", "personal_hidden": "Personal details are not shown to your role.",
        "act_accepted": "Accept", "act_contacted": "Contacted",
        "act_unreachable": "Could not reach", "act_closed": "Close",
        "st_new": "New", "st_accepted": "Accepted", "st_contacted": "Contacted",
        "st_unreachable": "Could not reach", "st_closed": "Closed", "st_cancelled": "Cancelled",
        "cm_telegram": "Telegram message", "cm_phone": "Phone call", "cm_visit": "Visit",
        "role": "Role", "locale": "Language", "active": "Active",
        "create_account": "Create account", "created_ok": "Account created.",
        "saved": "Saved.", "sent": "Message queued for the person.",
        "not_found": "Not found.", "forbidden": "Not allowed.",
        "error": "Something is wrong with this request.", "back": "Back",
        "role_counsellor": "Counsellor", "role_coordinator": "Coordinator",
        "role_admin": "Admin", "none": "—",
        "err_invalid_email": "This e-mail address is not valid.",
        "err_weak_password": "The password needs at least 12 characters.",
        "err_partner_required": "A counsellor needs a partner.",
        "err_unknown_partner": "Unknown partner.",
        "err_email_taken": "An account with this e-mail address exists.",
        "err_invalid_text": "Write a message of at most 2000 characters.",
        "err_referral_cancelled": "The person cancelled this request.",
        "act_returned": "Returned", "st_returned": "Returned",
        "return_country": "Destination country", "return_date": "Return date",
        "reintegration_partner": "Reintegration partner", "rp_caritas": "Caritas",
        "rp_iom": "IOM", "partners": "Partners", "audit_log": "Audit log",
        "audit_help": "The last 200 records, newest first.", "time": "Time",
        "action": "Action", "detail": "Detail",
        "counsellor_ids": "Counsellor Telegram ids",
        "counsellor_ids_help": "These Telegram users may use the buttons on the referral cards.",
        "telegram_user_id": "Telegram user id", "add": "Add", "remove": "Remove",
        "counsellor_added": "Counsellor added.", "counsellor_removed": "Counsellor removed.",
        "err_invalid_country": "Choose a destination country from the list.",
        "err_invalid_return_date": "Enter a return date at most 60 days from today.",
        "err_invalid_reintegration_partner": "Choose Caritas or IOM.",
        "err_invalid_telegram_id": "A Telegram user id is a positive whole number.",
    },
    "nl": {
        "app_name": "CONEX medewerkers",
        "login": "Aanmelden", "logout": "Afmelden", "email": "E-mailadres",
        "password": "Wachtwoord", "login_failed": "E-mailadres of wachtwoord is fout.",
        "too_many": "Te veel mislukte pogingen. Wacht 15 minuten en probeer opnieuw.",
        "inbox": "Inbox", "accounts": "Accounts",
        "tab_new": "Nieuw", "tab_accepted": "Aanvaard", "tab_contacted": "Gecontacteerd",
        "tab_closed": "Afgesloten", "empty": "Niets te zien.",
        "reference": "Referentie", "partner": "Partner", "status": "Status",
        "contact_mode": "Contact", "slot": "Afspraak", "language": "Taal",
        "interpreter": "Tolk nodig", "topic": "Onderwerp", "created": "Ontvangen",
        "yes": "Ja", "no": "Nee", "name": "Naam", "phone": "Telefoon",
        "facts": "Aanvraag", "history": "Statusgeschiedenis", "conversation": "Gesprek",
        "no_messages": "Nog geen berichten.", "from_person": "Persoon", "from_us": "Wij",
        "send_message": "Stuur een bericht naar de persoon", "message": "Bericht",
        "send": "Versturen", "actions": "Acties",
        "personal_hidden": "Persoonsgegevens worden niet getoond voor jouw rol.",
        "act_accepted": "Aanvaarden", "act_contacted": "Gecontacteerd",
        "act_unreachable": "Niet bereikt", "act_closed": "Afsluiten",
        "st_new": "Nieuw", "st_accepted": "Aanvaard", "st_contacted": "Gecontacteerd",
        "st_unreachable": "Niet bereikt", "st_closed": "Afgesloten", "st_cancelled": "Geannuleerd",
        "cm_telegram": "Telegrambericht", "cm_phone": "Telefoon", "cm_visit": "Bezoek",
        "role": "Rol", "locale": "Taal", "active": "Actief",
        "create_account": "Account aanmaken", "created_ok": "Account aangemaakt.",
        "saved": "Opgeslagen.", "sent": "Bericht klaargezet voor de persoon.",
        "not_found": "Niet gevonden.", "forbidden": "Niet toegestaan.",
        "error": "Er is iets mis met deze aanvraag.", "back": "Terug",
        "role_counsellor": "Consulent", "role_coordinator": "Coördinator",
        "role_admin": "Beheerder", "none": "—",
        "err_invalid_email": "Dit e-mailadres is niet geldig.",
        "err_weak_password": "Het wachtwoord heeft minstens 12 tekens nodig.",
        "err_partner_required": "Een consulent heeft een partner nodig.",
        "err_unknown_partner": "Onbekende partner.",
        "err_email_taken": "Er bestaat al een account met dit e-mailadres.",
        "err_invalid_text": "Schrijf een bericht van hoogstens 2000 tekens.",
        "err_referral_cancelled": "De persoon heeft deze aanvraag geannuleerd.",
        "act_returned": "Teruggekeerd", "st_returned": "Teruggekeerd",
        "return_country": "Land van bestemming", "return_date": "Datum van terugkeer",
        "reintegration_partner": "Re-integratiepartner", "rp_caritas": "Caritas",
        "rp_iom": "IOM", "partners": "Partners", "audit_log": "Auditlog",
        "audit_help": "De laatste 200 registraties, nieuwste eerst.", "time": "Tijdstip",
        "action": "Actie", "detail": "Detail",
        "counsellor_ids": "Telegram-id's van consulenten",
        "counsellor_ids_help": "Deze Telegram-gebruikers mogen de knoppen op de kaarten gebruiken.",
        "telegram_user_id": "Telegram-gebruikers-id", "add": "Toevoegen",
        "remove": "Verwijderen", "counsellor_added": "Consulent toegevoegd.",
        "counsellor_removed": "Consulent verwijderd.",
        "err_invalid_country": "Kies een land van bestemming uit de lijst.",
        "err_invalid_return_date":
            "Geef een datum van terugkeer, hoogstens 60 dagen vanaf vandaag.",
        "err_invalid_reintegration_partner": "Kies Caritas of IOM.",
        "err_invalid_telegram_id": "Een Telegram-gebruikers-id is een positief geheel getal.",
    },
    "fr": {
        "app_name": "CONEX personnel",
        "login": "Se connecter", "logout": "Se déconnecter", "email": "Adresse e-mail",
        "password": "Mot de passe",
        "login_failed": "L'adresse e-mail ou le mot de passe est incorrect.",
        "too_many": "Trop d'essais échoués. Attendez 15 minutes puis réessayez.",
        "inbox": "Boîte de réception", "accounts": "Comptes",
        "tab_new": "Nouvelles", "tab_accepted": "Acceptées", "tab_contacted": "Contactées",
        "tab_closed": "Clôturées", "empty": "Rien ici.",
        "reference": "Référence", "partner": "Partenaire", "status": "Statut",
        "contact_mode": "Contact", "slot": "Rendez-vous", "language": "Langue",
        "interpreter": "Interprète nécessaire", "topic": "Sujet", "created": "Reçue",
        "yes": "Oui", "no": "Non", "name": "Nom", "phone": "Téléphone",
        "facts": "Demande", "history": "Historique du statut", "conversation": "Conversation",
        "no_messages": "Pas encore de messages.", "from_person": "Personne",
        "from_us": "Nous", "send_message": "Envoyer un message à la personne",
        "message": "Message", "send": "Envoyer", "actions": "Actions",
        "personal_hidden": "Les données personnelles ne sont pas affichées pour votre rôle.",
        "act_accepted": "Accepter", "act_contacted": "Contactée",
        "act_unreachable": "Injoignable", "act_closed": "Clôturer",
        "st_new": "Nouvelle", "st_accepted": "Acceptée", "st_contacted": "Contactée",
        "st_unreachable": "Injoignable", "st_closed": "Clôturée", "st_cancelled": "Annulée",
        "cm_telegram": "Message Telegram", "cm_phone": "Appel", "cm_visit": "Visite",
        "role": "Rôle", "locale": "Langue", "active": "Actif",
        "create_account": "Créer un compte", "created_ok": "Compte créé.",
        "saved": "Enregistré.", "sent": "Message mis en file pour la personne.",
        "not_found": "Introuvable.", "forbidden": "Non autorisé.",
        "error": "Cette demande pose un problème.", "back": "Retour",
        "role_counsellor": "Conseiller", "role_coordinator": "Coordinateur",
        "role_admin": "Administrateur", "none": "—",
        "err_invalid_email": "Cette adresse e-mail n'est pas valide.",
        "err_weak_password": "Le mot de passe doit avoir au moins 12 caractères.",
        "err_partner_required": "Un conseiller a besoin d'un partenaire.",
        "err_unknown_partner": "Partenaire inconnu.",
        "err_email_taken": "Un compte existe déjà avec cette adresse e-mail.",
        "err_invalid_text": "Écrivez un message de 2000 caractères au plus.",
        "err_referral_cancelled": "La personne a annulé cette demande.",
        "act_returned": "Retourné", "st_returned": "Retourné",
        "return_country": "Pays de destination", "return_date": "Date du retour",
        "reintegration_partner": "Partenaire de réintégration", "rp_caritas": "Caritas",
        "rp_iom": "OIM", "partners": "Partenaires", "audit_log": "Journal d'audit",
        "audit_help": "Les 200 derniers enregistrements, du plus récent au plus ancien.",
        "time": "Heure", "action": "Action", "detail": "Détail",
        "counsellor_ids": "Identifiants Telegram des conseillers",
        "counsellor_ids_help": "Ces utilisateurs Telegram peuvent utiliser les boutons des fiches.",
        "telegram_user_id": "Identifiant d'utilisateur Telegram", "add": "Ajouter",
        "remove": "Retirer", "counsellor_added": "Conseiller ajouté.",
        "counsellor_removed": "Conseiller retiré.",
        "err_invalid_country": "Choisissez un pays de destination dans la liste.",
        "err_invalid_return_date": "Indiquez une date de retour à 60 jours au plus d'aujourd'hui.",
        "err_invalid_reintegration_partner": "Choisissez Caritas ou l'OIM.",
        "err_invalid_telegram_id": "Un identifiant Telegram est un nombre entier positif.",
    },
}


def translator(locale: str) -> Callable[[str], str]:
    messages = MESSAGES.get(locale, MESSAGES[DEFAULT_LOCALE])
    fallback = MESSAGES[DEFAULT_LOCALE]

    def t(key: str) -> str:
        return messages.get(key) or fallback.get(key) or key

    return t


def negotiate(accept_language: str | None) -> str:
    """The first of nl/fr/en named in an Accept-Language header (before login)."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LOCALES:
            return code
    return DEFAULT_LOCALE
