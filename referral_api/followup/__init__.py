"""Follow-up after return: enrolment, questionnaire waves, answers, import and analysis."""
