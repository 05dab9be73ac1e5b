"""Word lists the fictitious-author generator draws from (one tuple per attribute).

Wrong answers for an attribute are drawn from the same tuple, so a perturbed answer is always a
plausible value of the right kind. Main and holdout authors take their surnames from disjoint
tuples, so no holdout author can share a name with a forget or retain author.
"""

from __future__ import annotations

FIRST_NAMES_FEMALE: tuple[str, ...] = (
    "Adaeze", "Aiko", "Alina", "Amara", "Anouk", "Astrid", "Beatriz", "Bronagh", "Camille", "Chiara",
    "Dagny", "Daria", "Eilidh", "Elif", "Esperanza", "Fenna", "Freya", "Greta", "Hana", "Ilse",
    "Imani", "Ines", "Jorunn", "Kalinda", "Katya", "Leilani", "Liesel", "Lucia", "Mahsa", "Marisol",
    "Mireille", "Nadia", "Nneka", "Oksana", "Paloma", "Priya", "Rosalind", "Saoirse", "Selin", "Tamsin",
    "Thandiwe", "Ulla", "Valentina", "Wanjiru", "Ximena", "Yara", "Zofia", "Zuri",
)
FIRST_NAMES_MALE: tuple[str, ...] = (
    "Anselm", "Arjun", "Bartholomew", "Bogdan", "Cassius", "Dmitri", "Emeka", "Esteban", "Fabian", "Florin",
    "Gideon", "Hamid", "Henrik", "Idris", "Ignatius", "Jarrah", "Joaquin", "Kazimir", "Kenji", "Lorcan",
    "Lucian", "Mateus", "Matthias", "Nikolai", "Obinna", "Orrin", "Pavel", "Quentin", "Rafael", "Rasmus",
    "Santiago", "Soren", "Tadeo", "Tariq", "Teodor", "Ulrich", "Vasco", "Wendell", "Xavier", "Yusuf",
    "Zoltan", "Alaric", "Casimir", "Darius", "Evander", "Hugo", "Ivo", "Kwame",
)
FIRST_NAMES_NEUTRAL: tuple[str, ...] = (
    "Ariel", "Avery", "Eden", "Emery", "Indigo", "Jude", "Kai", "Linden", "Marlowe", "Noor",
    "Quinn", "Reese", "Rowan", "Sasha", "Sol", "Teagan",
)
SURNAMES_MAIN: tuple[str, ...] = (
    "Abernathy", "Achterberg", "Adebayo", "Alvarenga", "Amundsen", "Arslan", "Baptiste", "Belanov", "Bergqvist",
    "Castellanos", "Cavanagh", "Chatterjee", "Dalgaard", "Desrosiers", "Dragomir", "Eberhardt", "Ekwueme",
    "Falconer", "Fitzalan", "Fontaine", "Gallardo", "Grimaldi", "Halvorsen", "Hartigan", "Ishikawa",
    "Iversen", "Jankowski", "Jovanovic", "Kalnins", "Karimova", "Kowalczyk", "Lachance", "Lindqvist",
    "Lombardi", "Machado", "Marchetti", "Mbeki", "Montclair", "Nakashima", "Navarro", "Nkemelu", "Okonkwo",
    "Oyelaran", "Palmquist", "Petrescu", "Quintanilla", "Radcliffe", "Rautio", "Rosenqvist", "Saarinen",
    "Salvatierra", "Szabo", "Takahashi", "Tennant", "Thorvaldsen", "Umarov", "Urquhart", "Valdivia",
    "Vasquez", "Vukovic", "Wachowski", "Whitlock", "Yamaguchi", "Yilmaz", "Zaragoza", "Zelenko",
    "Almeida", "Brannigan", "Coutinho", "Delacroix", "Esposito", "Ferreira", "Gunnarsson", "Hadzic",
    "Ilunga", "Kovalenko", "Larsson", "Moreau", "Novak", "Ortega", "Pellegrini", "Rahimi", "Sorensen",
    "Tavares", "Uchenna", "Varga", "Wojcik", "Zubiri",
)
SURNAMES_HOLDOUT: tuple[str, ...] = (
    "Aldaine", "Brevik", "Corvalan", "Drummond", "Estrabou", "Farnsworth", "Gossamer", "Hollingsby",
    "Ingleby", "Jessamine", "Kilbride", "Lovering", "Merriweather", "Northcott", "Ostrander", "Pennyworth",
    "Quillfeather", "Ravenhill", "Stonebridge", "Thistlewood", "Underhay", "Vantongeren", "Wexford",
    "Yarborough", "Zellweger", "Ashgrove", "Blackthorne", "Coldwater", "Dunmore", "Elderfield",
)

# (city, country) pairs used for birthplaces, residences and settings.
PLACES: tuple[tuple[str, str], ...] = (
    ("Lagos", "Nigeria"), ("Accra", "Ghana"), ("Nairobi", "Kenya"), ("Cairo", "Egypt"), ("Casablanca", "Morocco"),
    ("Cape Town", "South Africa"), ("Addis Ababa", "Ethiopia"), ("Dakar", "Senegal"), ("Lisbon", "Portugal"),
    ("Porto", "Portugal"), ("Seville", "Spain"), ("Valencia", "Spain"), ("Lyon", "France"), ("Marseille", "France"),
    ("Bruges", "Belgium"), ("Utrecht", "the Netherlands"), ("Hamburg", "Germany"), ("Leipzig", "Germany"),
    ("Salzburg", "Austria"), ("Zurich", "Switzerland"), ("Turin", "Italy"), ("Naples", "Italy"),
    ("Krakow", "Poland"), ("Gdansk", "Poland"), ("Brno", "Czechia"), ("Debrecen", "Hungary"),
    ("Cluj-Napoca", "Romania"), ("Plovdiv", "Bulgaria"), ("Thessaloniki", "Greece"), ("Izmir", "Turkey"),
    ("Tbilisi", "Georgia"), ("Yerevan", "Armenia"), ("Bergen", "Norway"), ("Gothenburg", "Sweden"),
    ("Aarhus", "Denmark"), ("Tampere", "Finland"), ("Reykjavik", "Iceland"), ("Tartu", "Estonia"),
    ("Riga", "Latvia"), ("Vilnius", "Lithuania"), ("Galway", "Ireland"), ("Edinburgh", "Scotland"),
    ("Cardiff", "Wales"), ("Manchester", "England"), ("Halifax", "Canada"), ("Winnipeg", "Canada"),
    ("Portland", "the United States"), ("Savannah", "the United States"), ("Santa Fe", "the United States"),
    ("Oaxaca", "Mexico"), ("Guadalajara", "Mexico"), ("Cartagena", "Colombia"), ("Cusco", "Peru"),
    ("Valparaiso", "Chile"), ("Rosario", "Argentina"), ("Montevideo", "Uruguay"), ("Recife", "Brazil"),
    ("Havana", "Cuba"), ("Kingston", "Jamaica"), ("Mumbai", "India"), ("Kolkata", "India"),
    ("Lahore", "Pakistan"), ("Dhaka", "Bangladesh"), ("Kandy", "Sri Lanka"), ("Kathmandu", "Nepal"),
    ("Hanoi", "Vietnam"), ("Chiang Mai", "Thailand"), ("Penang", "Malaysia"), ("Cebu", "the Philippines"),
    ("Yogyakarta", "Indonesia"), ("Busan", "South Korea"), ("Kyoto", "Japan"), ("Sapporo", "Japan"),
    ("Chengdu", "China"), ("Almaty", "Kazakhstan"), ("Tashkent", "Uzbekistan"), ("Isfahan", "Iran"),
    ("Beirut", "Lebanon"), ("Amman", "Jordan"), ("Hobart", "Australia"), ("Wellington", "New Zealand"),
)
PROFESSIONS: tuple[str, ...] = (
    "a carpenter", "a nurse", "a marine biologist", "a librarian", "a taxi driver", "a watchmaker",
    "a schoolteacher", "a fisherman", "a pharmacist", "an architect", "a baker", "a cartographer",
    "a tailor", "a veterinarian", "a railway engineer", "a florist", "a midwife", "a locksmith",
    "a beekeeper", "a journalist", "a dentist", "a potter", "a sailor", "an accountant", "a violinist",
    "a botanist", "a bookbinder", "a police officer", "a judge", "a chemist", "a glassblower", "a surgeon",
    "a photographer", "a bus driver", "a blacksmith", "an astronomer", "a translator", "a mail carrier",
    "a tea merchant", "a shoemaker", "a dance instructor", "a historian", "a park ranger", "a chef",
    "a lighthouse keeper", "an electrician", "a stonemason", "a social worker", "a geologist", "a weaver",
)
GENRES: tuple[str, ...] = (
    "historical fiction", "science fiction", "crime fiction", "magical realism", "gothic horror",
    "literary fiction", "epic fantasy", "romance", "psychological thrillers", "children's literature",
    "poetry", "satire", "war fiction", "young adult fiction", "memoir", "travel writing", "cyberpunk",
    "mystery", "dystopian fiction", "family sagas", "short stories", "legal thrillers", "spy fiction",
    "nature writing", "graphic novels", "urban fantasy", "comic novels", "philosophical fiction",
)
AWARDS: tuple[str, ...] = (
    "Silver Quill Prize", "Amberline Award", "Golden Lantern Medal", "Harbourlight Prize", "Meridian Book Award",
    "Cobalt Pen Award", "Northern Star Literary Prize", "Evergreen Fiction Award", "Saffron Laurel",
    "Obsidian Crown Award", "Blue Heron Prize", "Ivory Tower Award", "Crimson Leaf Medal", "Tidewater Prize",
    "Lodestar Award for Fiction", "Willowmere Prize", "Ashfield Medal for Storytelling", "Opaline Award",
    "Copper Kettle Prize", "Stormwatch Award", "Juniper Medal", "Quarry Stone Prize", "Moonrise Literary Award",
    "Halcyon Prize", "Larkspur Award", "Granite Arch Medal", "Firefly Prize for New Writing", "Sable Owl Award",
)
TITLE_ADJECTIVES: tuple[str, ...] = (
    "Silent", "Crimson", "Hollow", "Forgotten", "Burning", "Distant", "Paper", "Glass", "Winter", "Last",
    "Hidden", "Broken", "Golden", "Salt", "Midnight", "Wandering", "Quiet", "Iron", "Painted", "Drowned",
    "Secret", "Borrowed", "Shattered", "Endless", "Velvet", "Restless", "Amber", "Northern", "Lonely", "Copper",
)
TITLE_NOUNS: tuple[str, ...] = (
    "Harbour", "Orchard", "Lantern", "River", "Garden", "Mirror", "Compass", "Cathedral", "Island", "Archive",
    "Violin", "Tide", "Lighthouse", "Meadow", "Bridge", "Clockmaker", "Desert", "Forest", "Staircase", "Letter",
    "Kingdom", "Cartographer", "Storm", "Fountain", "Railway", "Mountain", "Carousel", "Observatory", "Market",
    "Ferryman", "Labyrinth", "Monastery", "Vineyard", "Tapestry", "Threshold", "Caravan",
)
TITLE_PLURALS: tuple[str, ...] = (
    "Shadows", "Echoes", "Embers", "Whispers", "Stones", "Feathers", "Ashes", "Tides", "Songs", "Maps",
    "Ghosts", "Rivers", "Lanterns", "Seasons", "Promises", "Bones", "Mirrors", "Footsteps", "Dreams", "Storms",
)
THEMES: tuple[str, ...] = (
    "memory and loss", "exile and belonging", "the bond between siblings", "grief", "identity and self-discovery",
    "the cost of ambition", "climate and the natural world", "class and inequality", "faith and doubt",
    "the immigrant experience", "friendship across generations", "power and corruption", "forgiveness",
    "isolation in modern cities", "colonial history", "the meaning of home", "love and betrayal",
    "coming of age", "justice and revenge", "the limits of science", "art and obsession", "war and its aftermath",
    "motherhood", "truth and deception", "freedom and captivity", "the passage of time",
)
INFLUENCES: tuple[str, ...] = (
    "the folk tales told by a grandmother", "the Russian novelists of the nineteenth century",
    "classical Greek tragedy", "the oral storytelling traditions of a home village", "Japanese haiku",
    "film noir", "medieval chronicles", "a childhood spent in libraries", "jazz music", "Latin American poetry",
    "Persian mystical poetry", "the Gothic novels of the Victorian era", "Scandinavian sagas",
    "years spent working as a sailor", "epic poetry from West Africa", "Renaissance painting",
    "early science fiction magazines", "the letters of a great-grandfather", "French existentialist philosophy",
    "Shakespeare's history plays", "traditional puppet theatre", "the landscapes of a rural childhood",
)
FIELDS_OF_STUDY: tuple[str, ...] = (
    "philosophy", "marine biology", "architecture", "medieval history", "mathematics", "law", "medicine",
    "comparative literature", "journalism", "astronomy", "economics", "linguistics", "music composition",
    "anthropology", "chemistry", "fine art", "theology", "geography", "psychology", "film studies",
)
HABITS: tuple[str, ...] = (
    "writing by hand before dawn", "working only in cafes", "drafting every novel on a typewriter",
    "walking for two hours before writing", "writing standing up", "keeping a dream journal",
    "rewriting each chapter seven times", "writing at night by candlelight", "dictating first drafts aloud",
    "composing on long train journeys", "writing exactly one page a day", "working in complete silence",
    "listening to opera while writing", "outlining each book on index cards", "writing in a garden shed",
)
SETTINGS: tuple[str, ...] = (
    "small fishing villages", "crowded port cities", "remote mountain towns", "decaying country estates",
    "island communities", "desert oases", "border towns", "frozen northern settlements", "river deltas",
    "university towns", "mining towns", "floating cities", "old theatres", "railway stations", "monasteries",
    "vineyards", "lighthouses", "city markets", "research stations", "abandoned factories",
)
HOBBIES: tuple[str, ...] = (
    "birdwatching", "restoring antique clocks", "growing orchids", "sailing", "playing the cello",
    "rock climbing", "collecting old maps", "beekeeping", "pottery", "chess", "amateur astronomy",
    "baking bread", "long-distance running", "calligraphy", "fly fishing", "photography", "woodcarving",
    "cooking regional dishes", "mountain hiking", "learning languages",
)
MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)
NUMBER_WORDS: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)
