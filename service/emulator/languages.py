"""Speech languages new_job accepts, and what differs for languages other than US English.

The seed sends readers to Valossa's list (portal docs, #/languages) and says that "for other
languages than US English, the following exceptions apply", but neither the list nor the
exceptions are in the documents we have (../shared/seed/valossa-api.txt and
valossa-metadata.md). Our choice, kept conservative so that nothing relies on a language or a
feature Valossa may not offer:

* accepted: the widely supported locales below (more with VALOSSA_EMULATOR_EXTRA_LANGUAGES);
* en-US (the default): the full speech analysis (transcript, spoken keywords, sentiment);
* any other language: the transcript only (audio.speech and the speech_to_text_* files, in that
  language), without audio.keyword.* detections and without sentiment.
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "en-US"

#: Sentences the emulated speech recognition "hears", per language other than English.
PHRASES: dict[str, tuple[str, ...]] = {
    "de-DE": (
        "Wir sehen uns morgen am Bahnhof.",
        "Das habe ich dir doch schon gesagt.",
        "Wo hast du den Schlüssel hingelegt?",
        "Es wird spät, wir sollten gehen.",
        "Ich glaube, wir kennen uns schon.",
    ),
    "es-ES": (
        "Nos vemos mañana en la estación.",
        "Ya te lo había dicho antes.",
        "¿Dónde has dejado la llave?",
        "Se hace tarde, deberíamos irnos.",
        "Creo que ya nos conocemos.",
    ),
    "fr-FR": (
        "On se voit demain à la gare.",
        "Je te l'avais déjà dit.",
        "Où as-tu mis la clé ?",
        "Il se fait tard, nous devrions partir.",
        "Je crois que nous nous connaissons.",
    ),
    "fi-FI": (
        "Nähdään huomenna asemalla.",
        "Sanoinhan sen sinulle jo.",
        "Mihin laitoit avaimen?",
        "On jo myöhä, meidän pitäisi lähteä.",
        "Luulen, että olemme tavanneet ennenkin.",
    ),
    "it-IT": (
        "Ci vediamo domani alla stazione.",
        "Te l'avevo già detto.",
        "Dove hai messo la chiave?",
        "Si fa tardi, dovremmo andare.",
        "Credo che ci conosciamo già.",
    ),
    "nl-NL": (
        "We zien elkaar morgen op het station.",
        "Dat had ik je al gezegd.",
        "Waar heb je de sleutel gelaten?",
        "Het wordt laat, we moeten gaan.",
        "Ik denk dat we elkaar al kennen.",
    ),
    "pt-BR": (
        "A gente se vê amanhã na estação.",
        "Eu já tinha te falado isso.",
        "Onde você deixou a chave?",
        "Está ficando tarde, vamos embora.",
        "Acho que a gente já se conhece.",
    ),
    "sv-SE": (
        "Vi ses i morgon på stationen.",
        "Jag har ju redan sagt det.",
        "Var lade du nyckeln?",
        "Det börjar bli sent, vi borde gå.",
        "Jag tror att vi har träffats förut.",
    ),
}

#: Accepted without extra settings: US and British English plus the languages above.
LANGUAGES: tuple[str, ...] = (DEFAULT_LANGUAGE, "en-GB", *PHRASES)


def accepted_languages(extra: str) -> tuple[str, ...]:
    """The built-in list plus the comma-separated extra codes of the settings."""
    added = [code.strip() for code in extra.split(",") if code.strip()]
    return LANGUAGES + tuple(code for code in added if code not in LANGUAGES)


def full_speech_analysis(language: str) -> bool:
    """True for US English, the one language with spoken keywords and sentiment."""
    return language == DEFAULT_LANGUAGE
