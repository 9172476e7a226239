"""Every domain's models, imported so that `Base.metadata` knows all tables (Alembic, tests).

The one module of the `db` kit that imports the domains: the registry of their tables."""

from __future__ import annotations

from sqlalchemy import MetaData

from referral_api.campaigns import models as campaign_models
from referral_api.db.base import Base
from referral_api.followup import models as followup_models
from referral_api.outbox import models as outbox_models
from referral_api.partners import models as partner_models
from referral_api.referrals import models as referral_models
from referral_api.signals import models as signal_models
from referral_api.staff import models as staff_models
from referral_api.translations import models as translation_models

MODEL_MODULES = (partner_models, referral_models, outbox_models, staff_models, followup_models,
                 signal_models, campaign_models, translation_models)


def metadata() -> MetaData:
    return Base.metadata
