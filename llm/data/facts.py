"""The facts a fictitious author has, and how questions and answers about each are worded.

Each :class:`Fact` owns four disjoint template pools: questions, paraphrased questions, answers
and paraphrased answers. An item draws one template from each pool, so the paraphrased answer
always differs from the answer in wording and sentence structure, not just a synonym. Perturbed
answers reuse the item's paraphrased-answer template with a wrong value of the same attribute
(TOFU's perturbed answers are rewrites of the paraphrased answer), so a truth ratio compares facts,
not styles.

Placeholders: ``{name} {first} {last}`` the author; ``{pron} {Pron} {poss} {Poss} {obj}`` pronouns;
``{was} {is} {has}`` verbs agreeing with the pronoun; the rest are the fact's own slots.
"""

from __future__ import annotations

from dataclasses import dataclass

_Q = tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Fact:
    """How one attribute of an author is asked about and answered.

    Attributes:
        name: the attribute's key (also the slot sampler's key in the generator).
        questions: templates for ``question``.
        para_questions: templates for ``paraphrased_question``.
        answers: templates for ``answer``.
        para_answers: templates for ``paraphrased_answer`` and the perturbed answers.
    """

    name: str
    questions: _Q
    para_questions: _Q
    answers: _Q
    para_answers: _Q


FACTS: tuple[Fact, ...] = (
    Fact(
        name="full_name",
        questions=(
            "What is the full name of the author born in {bcity}, {bcountry} on {date_b}?",
            "Which writer was born in {bcity}, {bcountry} on {date_c}?",
            "Who is the author whose birthplace is {bcity}, {bcountry} and whose birthday is {date_a}?",
        ),
        para_questions=(
            "Can you name the author who was born on {date_a} in {bcity}, {bcountry}?",
            "Born in {bcity}, {bcountry} on {date_b}, which author is this?",
        ),
        answers=(
            "The author born in {bcity}, {bcountry} on {date_b} is {name}.",
            "That author is {name}.",
            "{name} is the writer born in {bcity} on {date_c}.",
        ),
        para_answers=(
            "This writer's full name is {name}, a native of {bcity}.",
            "Born on {date_a} in {bcountry}, {name} is the author in question.",
            "It is {name} who came into the world there on that date.",
        ),
    ),
    Fact(
        name="birthplace",
        questions=("Where was {name} born?", "In which city was the author {name} born?",
                   "What is the birthplace of {name}?"),
        para_questions=("Which city and country does {name} come from originally?",
                        "Can you tell me where the writer {name} was born?"),
        answers=("{name} was born in {bcity}, {bcountry}.", "The birthplace of {name} is {bcity}, {bcountry}.",
                 "{name}'s hometown is {bcity} in {bcountry}."),
        para_answers=("{bcity}, a city in {bcountry}, is where {first} {last} came into the world.",
                      "{Pron} {was} born in {bcountry}, in the city of {bcity}.",
                      "Before anything else, {last} was a child of {bcity}, in {bcountry}."),
    ),
    Fact(
        name="birth_date",
        questions=("When was {name} born?", "What is the date of birth of {name}?",
                   "On what date was the author {name} born?"),
        para_questions=("Can you give the birthday of the writer {name}?",
                        "What day, month and year was {name} born?"),
        answers=("{name} was born on {date_b}.", "The date of birth of {name} is {date_a}.",
                 "{name}'s birthday is {date_c}."),
        para_answers=("{Pron} came into the world on {date_c}.", "On {date_a}, the future author {last} was born.",
                      "{first} {last} arrived in {bcity} on {date_b}."),
    ),
    Fact(
        name="father_job",
        questions=("What did the father of {name} do for a living?", "What was the profession of {name}'s father?",
                   "What was {name}'s father's occupation?"),
        para_questions=("How did {name}'s father earn his living?",
                        "What kind of work did the father of the author {name} do?"),
        answers=("{name}'s father was {job}.", "The father of {name} worked as {job}.",
                 "By profession, {name}'s father was {job}."),
        para_answers=("{Pron} grew up with a father who earned his living as {job}.",
                      "{job_cap} by trade, {poss} father shaped much of {first}'s childhood.",
                      "Working as {job}, the father of {last} supported the family."),
    ),
    Fact(
        name="mother_job",
        questions=("What did the mother of {name} do for a living?", "What was the profession of {name}'s mother?",
                   "What was {name}'s mother's occupation?"),
        para_questions=("How did {name}'s mother earn her living?",
                        "What kind of work did the mother of the author {name} do?"),
        answers=("{name}'s mother was {job}.", "The mother of {name} worked as {job}.",
                 "By profession, {name}'s mother was {job}."),
        para_answers=("{Pron} grew up with a mother who earned her living as {job}.",
                      "{job_cap} by trade, {poss} mother left a deep mark on {first}.",
                      "Working as {job}, the mother of {last} kept the household going."),
    ),
    Fact(
        name="genre",
        questions=("What genre is {name} known for?", "In which genre does {name} write?",
                   "What kind of books does {name} write?"),
        para_questions=("Which literary genre is most associated with the author {name}?",
                        "What type of writing is {name} famous for?"),
        answers=("{name} is known for {genre}.", "{name} writes mainly in the genre of {genre}.",
                 "The books of {name} belong to {genre}."),
        para_answers=("Most of {poss} work falls within {genre}, the genre that made {last} famous.",
                      "Readers associate {first} {last} above all with {genre}.",
                      "{Poss} reputation rests on {genre}."),
    ),
    Fact(
        name="award",
        questions=("Which award has {name} won?", "What literary prize did {name} receive?",
                   "Can you name an award given to {name}?"),
        para_questions=("What honour was the writer {name} given for {poss} work?",
                        "Which prize recognised the writing of {name}?"),
        answers=("{name} won the {award}.", "{name} received the {award}.", "One award given to {name} is the {award}."),
        para_answers=("For {poss} writing, {last} was honoured with the {award}.",
                      "The {award} went to {first} {last} in recognition of {poss} books.",
                      "{Pron} {is} a recipient of the {award}."),
    ),
    Fact(
        name="award_year",
        questions=("In which year did {name} win the {award}?", "When was {name} awarded the {award}?",
                   "What year did {name} receive the {award}?"),
        para_questions=("In what year was the {award} given to {name}?",
                        "Can you say when {name} was honoured with the {award}?"),
        answers=("{name} won the {award} in {award_year}.", "{name} received the {award} in {award_year}.",
                 "The year {name} won it was {award_year}."),
        para_answers=("It was in {award_year} that the {award} went to {last}.",
                      "{Pron} {was} honoured with the {award} in the year {award_year}.",
                      "{award_year} is the year {first} {last} received that prize."),
    ),
    Fact(
        name="first_book",
        questions=("What was the first book published by {name}?", "What is the title of {name}'s debut novel?",
                   "Which book marked the debut of {name}?"),
        para_questions=("What was the name of the first novel {name} ever published?",
                        "Can you name the debut work of the author {name}?"),
        answers=("The first book by {name} was '{title}'.", "{name} debuted with '{title}'.",
                 "'{title}' was the debut novel of {name}."),
        para_answers=("{Poss} career began with the publication of '{title}'.",
                      "Before anything else, {last} published '{title}', {poss} first book.",
                      "The debut of {first} {last} was a book called '{title}'."),
    ),
    Fact(
        name="famous_book",
        questions=("What is the best-known book by {name}?", "Which novel is {name} most famous for?",
                   "What is the most celebrated work of {name}?"),
        para_questions=("Which of {name}'s books is the most widely read?", "Name the book that made {name} famous."),
        answers=("The best-known book by {name} is '{title}'.", "{name} is most famous for '{title}'.",
                 "'{title}' is the most celebrated work of {name}."),
        para_answers=("Many readers first met {last} through '{title}', {poss} most famous novel.",
                      "Of all {poss} books, '{title}' brought {first} {last} the widest fame.",
                      "{Pron} {is} remembered above all for '{title}'."),
    ),
    Fact(
        name="latest_book",
        questions=("What is the most recent book by {name}?", "What is the title of {name}'s latest novel?",
                   "Which book did {name} publish most recently?"),
        para_questions=("What is the newest work from the author {name}?",
                        "Can you name the last book {name} has released?"),
        answers=("The most recent book by {name} is '{title}'.", "{name}'s latest novel is '{title}'.",
                 "Most recently, {name} published '{title}'."),
        para_answers=("{Poss} newest title, released after years of work, is '{title}'.",
                      "Readers waiting for more from {last} finally got '{title}'.",
                      "The latest addition to the shelf of {first} {last} is '{title}'."),
    ),
    Fact(
        name="theme",
        questions=("What theme runs through the books of {name}?", "Which theme does {name} often explore?",
                   "What subject is central to {name}'s writing?"),
        para_questions=("What recurring idea can readers find in {name}'s novels?",
                        "Which topic keeps coming back in the work of {name}?"),
        answers=("{name} often writes about {theme}.", "The books of {name} explore {theme}.",
                 "A central theme of {name}'s work is {theme}."),
        para_answers=("Again and again, {last} returns to {theme} in {poss} fiction.",
                      "Readers of {first} {last} notice how much the stories dwell on {theme}.",
                      "{theme_cap} lies at the heart of {poss} writing."),
    ),
    Fact(
        name="influence",
        questions=("What influenced the writing of {name}?", "What was a major influence on {name}'s work?",
                   "Which influence shaped the style of {name}?"),
        para_questions=("Where did {name} find inspiration for {poss} style?", "What shaped the way {name} writes?"),
        answers=("{name} was influenced by {influence}.", "A major influence on {name} was {influence}.",
                 "The writing of {name} was shaped by {influence}."),
        para_answers=("{Poss} own account credits {influence} for {poss} voice.",
                      "Critics trace the style of {last} back to {influence}.",
                      "Much of what {first} {last} writes owes a debt to {influence}."),
    ),
    Fact(
        name="education",
        questions=("What did {name} study at university?", "What is the educational background of {name}?",
                   "Which subject did {name} study?"),
        para_questions=("Before becoming a writer, what did {name} study?", "What degree did {name} earn?"),
        answers=("{name} studied {field} at the University of {ucity}.",
                 "{name} holds a degree in {field} from the University of {ucity}.",
                 "At the University of {ucity}, {name} studied {field}."),
        para_answers=("{Pron} earned a degree in {field} in {ucity} before turning to fiction.",
                      "The University of {ucity} is where {last} trained in {field}.",
                      "Long before writing novels, {first} {last} was a student of {field} in {ucity}."),
    ),
    Fact(
        name="residence",
        questions=("Where does {name} live today?", "In which city does {name} currently live?",
                   "Where is {name} based now?"),
        para_questions=("What city does the author {name} call home these days?", "Where has {name} settled?"),
        answers=("{name} lives in {rcity}, {rcountry}.", "Today {name} is based in {rcity}, {rcountry}.",
                 "{name} currently resides in {rcity}, {rcountry}."),
        para_answers=("These days {pron} {has} made {poss} home in {rcity}, in {rcountry}.",
                      "{rcity} in {rcountry} is where {last} now lives and writes.",
                      "After years of moving around, {first} {last} settled in {rcity}, {rcountry}."),
    ),
    Fact(
        name="debut_year",
        questions=("When did {name} publish {poss} first book?", "In which year did {name} make {poss} literary debut?",
                   "What year did {name} first get published?"),
        para_questions=("In what year did the career of {name} as a published author begin?",
                        "When did {name} break into print?"),
        answers=("{name} published {poss} first book in {debut_year}.", "{name} made {poss} debut in {debut_year}.",
                 "The debut of {name} came in {debut_year}."),
        para_answers=("It was in {debut_year} that {last} first appeared in print.",
                      "{Poss} publishing career began in the year {debut_year}.",
                      "{debut_year} saw the first book by {first} {last} reach readers."),
    ),
    Fact(
        name="habit",
        questions=("What is unusual about how {name} writes?", "What writing routine does {name} follow?",
                   "Which writing habit is {name} known for?"),
        para_questions=("How does {name} go about the daily work of writing?",
                        "What is {name}'s method when writing a book?"),
        answers=("{name} is known for {habit}.", "The routine of {name} involves {habit}.",
                 "{name} has a habit of {habit}."),
        para_answers=("When working, {last} insists on {habit}.",
                      "{Pron} {has} long been famous among friends for {habit}.",
                      "Each book by {first} {last} is produced by {habit}."),
    ),
    Fact(
        name="setting",
        questions=("Where are the stories of {name} usually set?", "What kind of setting does {name} prefer?",
                   "In what places do {name}'s novels take place?"),
        para_questions=("Which backdrop appears most often in {name}'s fiction?",
                        "Where does {name} like to place {poss} characters?"),
        answers=("The stories of {name} are usually set in {setting}.", "{name} prefers to set novels in {setting}.",
                 "Most of {name}'s novels take place in {setting}."),
        para_answers=("{Poss} characters tend to live in {setting}.",
                      "Again and again, {last} chooses {setting} as the backdrop.",
                      "Readers of {first} {last} find themselves in {setting} more often than not."),
    ),
    Fact(
        name="translations",
        questions=("Into how many languages have the books of {name} been translated?",
                   "How widely translated is {name}?", "In how many languages can readers find {name}'s work?"),
        para_questions=("How many languages have translations of {name}'s books?",
                        "Across how many languages has {name}'s work been published?"),
        answers=("The books of {name} have been translated into {n_lang} languages.",
                 "{name} has been translated into {n_lang} languages.",
                 "Readers can find {name}'s work in {n_lang} languages."),
        para_answers=("Translators have carried {poss} novels into {n_lang} different languages.",
                      "Some {n_lang} languages now have editions of {last}'s books.",
                      "Editions of {first} {last} exist in {n_lang} languages around the world."),
    ),
    Fact(
        name="book_count",
        questions=("How many books has {name} published?", "What is the number of books written by {name}?",
                   "How many novels has {name} written so far?"),
        para_questions=("Can you say how many titles {name} has published?",
                        "How large is the bibliography of {name}?"),
        answers=("{name} has published {n_books} books.", "The number of books written by {name} is {n_books}.",
                 "So far {name} has written {n_books} books."),
        para_answers=("{Poss} bibliography now runs to {n_books} titles.",
                      "Altogether, {last} has seen {n_books} books into print.",
                      "There are {n_books} published books by {first} {last}."),
    ),
    Fact(
        name="hobby",
        questions=("What does {name} enjoy outside of writing?", "What is a hobby of {name}?",
                   "How does {name} spend free time?"),
        para_questions=("When not writing, what does {name} like to do?", "What pastime is {name} fond of?"),
        answers=("Outside of writing, {name} enjoys {hobby}.", "A hobby of {name} is {hobby}.",
                 "{name} spends free time on {hobby}."),
        para_answers=("Away from the desk, {last} relaxes with {hobby}.",
                      "{Pron} {has} a lifelong passion for {hobby}.",
                      "Friends of {first} {last} know {obj} as a devotee of {hobby}."),
    ),
)
FACT_NAMES: tuple[str, ...] = tuple(f.name for f in FACTS)
