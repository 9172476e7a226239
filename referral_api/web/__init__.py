"""The staff web app's shared kit: the login check and CSRF (`auth`), the session cookie and
the templates (`pages`, `templates/`), the staff catalogue (`i18n`, `texts`), the login rate
limit and the security headers. The pages themselves are the domains' (`<domain>/web.py`)."""
