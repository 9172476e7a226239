"""Every domain's models, imported so that `Base.metadata` knows all tables (Alembic, tests)."""

from __future__ import annotations

from sqlalchemy import MetaData

from referral_api.db.base import Base
from referral_api.outbox import models as outbox_models
from referral_api.partners import models as partner_models
from referral_api.referrals import models as referral_models
from referral_api.signals import models as signal_models
from referral_api.staff import models as staff_models
from referral_api.surveys import models as survey_models

MODEL_MODULES = (partner_models, referral_models, outbox_models, staff_models, survey_models,
                 signal_models)


def metadata() -> MetaData:
    return Base.metadata
