from tests.harness import Harness


async def test_start_shows_welcome_question(harness: Harness) -> None:
    person = harness.person()
    replies = await person.send("/start")
    assert "reception centre" in replies[-1]
    assert person.buttons[:3] == ["Yes, in a reception centre", "No", "I prefer not to say"]
    await person.press("No")
    assert "What would you like to know?" in person.text
