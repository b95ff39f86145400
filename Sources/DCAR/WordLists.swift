import Foundation

/// The chunker's English word lists. Small on purpose: they cover captions and chat
/// queries about photos; an unknown word is simply a noun or adjective.
enum WordLists {
    static let colours: Set<String> = [
        "red", "orange", "yellow", "green", "blue", "purple", "violet", "pink", "brown", "black", "white",
        "grey", "gray", "silver", "gold", "golden", "beige", "tan", "teal", "turquoise", "cyan", "magenta",
        "maroon", "navy", "olive", "ivory", "crimson", "scarlet", "lavender", "indigo", "amber",
        "burgundy", "khaki", "lilac", "bronze", "copper", "colorful", "colourful", "multicolored",
        "multicoloured", "multi-colored", "multi-coloured", "colored", "coloured", "blonde", "blond", "greenish", "bluish", "reddish",
        "brownish", "yellowish", "whitish", "blackish", "grayish", "greyish", "pinkish",
    ]
    /// Words that form one colour with a following colour word ("light blue").
    static let colourShades: Set<String> = [
        "light", "dark", "pale", "bright", "deep", "pastel", "hot", "navy", "sky", "royal", "baby", "lime",
        "forest", "olive", "neon", "dusty", "rich", "off", "jet", "snow", "blood", "sea", "emerald", "lemon",
    ]
    static let numbers: Set<String> = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty",
        "forty", "fifty", "hundred", "hundreds", "thousand", "thousands", "dozen", "dozens", "single", "lone",
        "several", "many", "few", "multiple", "numerous", "couple", "pair", "both", "double", "twin", "twins",
        "triple", "lots", "various", "countless",
    ]
    /// Quantity nouns that join the following chunk when followed by "of" ("herd of cows").
    static let collectives: Set<String> = [
        "group", "groups", "herd", "herds", "flock", "flocks", "bunch", "bunches", "number", "lot", "lots",
        "couple", "pair", "pairs", "pack", "crowd", "pile", "piles", "variety", "set", "row", "rows", "stack",
        "stacks", "dozen", "dozens", "school", "swarm", "team", "family", "line", "collection", "assortment",
        "bundle", "cluster", "colony", "troop", "pod", "handful", "plenty", "series", "array", "fleet",
    ]
    static let materials: Set<String> = [
        "wooden", "wood", "metal", "metallic", "steel", "iron", "stone", "brick", "glass", "plastic", "leather",
        "paper", "cardboard", "concrete", "marble", "ceramic", "porcelain", "cotton", "wool", "woolen",
        "woollen", "silk", "rubber", "aluminum", "aluminium", "wicker", "bamboo", "clay", "granite",
        "sandstone", "tin", "straw", "fabric", "denim", "velvet", "lace", "crystal", "brass", "chrome",
        "timber", "adobe", "terracotta", "limestone", "stainless", "wire", "canvas", "linen", "fur",
    ]
    static let sizes: Set<String> = [
        "big", "large", "small", "little", "tiny", "huge", "giant", "tall", "short", "long", "wide", "narrow",
        "massive", "enormous", "miniature", "mini", "high", "low", "thick", "thin", "fat", "medium",
        "oversized", "petite", "vast", "gigantic", "immense", "towering", "skinny", "slim", "large-scale",
        "big-sized", "full-size", "life-size", "bigger", "smaller", "largest", "smallest", "tallest",
    ]
    /// Textures, patterns, age and light: attributes of kind `other`.
    static let patterns: Set<String> = [
        "striped", "stripy", "spotted", "dotted", "checkered", "chequered", "plaid", "floral", "furry",
        "fluffy", "shiny", "rusty", "fuzzy", "smooth", "rough", "wet", "dry", "old", "new", "ancient",
        "modern", "antique", "vintage", "young", "baby", "dark", "bright", "sunny", "cloudy", "foggy",
        "snowy", "rainy", "empty", "full", "clean", "dirty", "broken", "round", "rectangular",
        "curved", "flat", "pointed", "sharp", "spiky", "hairy", "feathered", "wrinkled", "transparent",
        "sliced", "fresh", "ripe", "cooked", "fried", "grilled", "frozen", "hot", "cold", "warm", "lush",
        "dense", "open", "closed", "crowded", "busy", "quiet", "cute", "beautiful", "pretty", "ornate",
        "decorated", "stuffed", "patterned", "polka", "tabby", "bald", "naked", "male", "female", "adult",
        "wild", "domestic", "historic", "medieval", "gothic",
    ]
    /// Places and surroundings: a chunk headed by one of these is of kind `scene`.
    static let scenes: Set<String> = [
        "street", "road", "beach", "field", "park", "kitchen", "room", "grass", "sky", "water", "lake", "river",
        "sea", "ocean", "mountain", "hill", "hillside", "hilltop", "forest", "wood", "woods", "city", "town",
        "snow", "desert", "garden", "yard", "background", "sunset", "sunrise", "night", "indoors", "outdoors",
        "airport", "station", "farm", "meadow", "shore", "zoo", "market", "sidewalk", "pavement", "highway",
        "bathroom", "bedroom", "office", "restaurant", "cafe", "shop", "store", "pasture", "jungle", "valley",
        "cliff", "coast", "island", "pond", "stream", "waterfall", "bay", "harbor", "harbour", "dock", "pier",
        "square", "plaza", "courtyard", "countryside", "village", "downtown", "intersection", "parking",
        "lot", "runway", "track", "trail", "path", "lawn", "dirt", "sand", "mud", "rocks", "canyon", "plain",
        "savanna", "savannah", "reef", "pool", "stadium", "court", "arena", "church", "temple", "museum",
        "skyline", "horizon", "distance", "foreground", "outside", "inside", "area", "enclosure", "cage",
        "tank", "aquarium", "table", "floor", "wall", "ground", "window", "counter", "house",
    ]
    /// Function words and words too generic to describe a photo.
    static let stopWords: Set<String> = [
        "a", "an", "the", "this", "that", "these", "those", "some", "any", "each", "every", "all", "another",
        "other", "such", "no", "not", "of", "in", "on", "at", "with", "without", "and", "or", "but", "nor",
        "to", "for", "from", "by", "near", "next", "under", "over", "above", "below", "behind", "beside",
        "besides", "between", "among", "amongst", "into", "onto", "upon", "out", "off", "up", "down", "around",
        "through", "across", "along", "against", "toward", "towards", "via", "about", "like", "as", "than",
        "while", "during", "before", "after", "since", "until", "within", "beneath", "underneath", "inside",
        "outside", "atop", "top", "front", "side", "middle", "back", "bottom", "edge", "end", "part", "its",
        "it", "it's", "they", "them", "their", "he", "him", "his", "she", "her", "hers", "we", "us", "our",
        "you", "your", "i", "me", "my", "mine", "who", "whom", "whose", "which", "what", "where", "when",
        "why", "how", "there", "here", "then", "so", "very", "really", "quite", "too", "also", "just", "only",
        "even", "still", "again", "together", "away", "almost", "rather", "somewhat", "mostly", "partly",
        "photo", "photograph", "picture", "pic", "image", "shot", "snapshot", "view", "closeup", "close-up",
        "close", "up-close", "scene", "shows", "showing", "something", "someone", "somebody", "thing",
        "things", "kind", "type", "sort", "way", "bit", "piece", "pieces", "ones", "yes",
        "hey", "hi", "hello", "please", "thanks", "thank", "ok", "okay", "oh", "wow", "lol", "look", "looks",
        "send", "sent", "share", "find", "search", "want", "need", "got", "get", "let", "let's", "can",
        "could", "would", "should", "will", "shall", "may", "might", "must", "do", "does", "did", "done",
        "be", "is", "are", "was", "were", "been", "being", "am", "has", "have", "had", "having", "if", "else",
        "because", "well", "much", "more", "most", "less", "least", "own", "same", "different", "either",
        "neither", "whether", "un", "une", "le", "la", "de", "du", "des", "der", "die", "das", "el", "y",
    ]
    /// Common verbs (not caught by the -ing/-ed rule).
    static let verbs: Set<String> = [
        "sit", "sits", "stand", "stands", "lie", "lies", "lay", "lays", "hold", "holds", "held", "eat", "eats",
        "ate", "eaten", "rest", "rests", "wait", "waits", "walk", "walks", "run", "runs", "ran", "play", "plays",
        "ride", "rides", "rode", "ridden", "fly", "flies", "flew", "flown", "see", "sees", "saw", "seen", "make",
        "makes", "made", "take", "takes", "took", "taken", "build", "builds", "built", "grow", "grows", "grew",
        "grown", "contain", "contains", "carry", "carries", "wear", "wears", "wore", "worn", "hang", "hangs",
        "hung", "go", "goes", "went", "gone", "come", "comes", "came", "swim", "swims", "swam", "drink",
        "drinks", "drank", "graze", "grazes", "stare", "stares", "appear", "appears", "seem", "seems", "keep",
        "keeps", "kept", "use", "uses", "feature", "features", "cover", "covers", "fill", "fills", "display",
        "displays", "line", "lines", "overlook", "overlooks", "face", "faces", "lean", "leans", "perch",
        "perches", "smile", "smiles", "watch", "watches", "cross", "crosses", "pose", "poses", "prepare",
        "prepares", "cut", "cuts", "set", "put", "puts", "sat", "stood", "lain", "lying", "left", "found",
        "belong", "belongs", "say", "says", "said", "think", "know", "like", "love", "loves", "is", "drives",
        "performs", "gathers", "sleeps", "jumps", "talks", "reads", "writes", "climbs", "stops", "turns",
        "points", "pulls", "pushes", "throws", "catches", "kicks", "hits", "swings", "shows", "places",
        "lays", "waits", "eats", "looks", "walks", "sits", "gets", "does", "includes", "surrounds",
    ]
    /// -ing / -ed words that are nouns or adjectives, not participles.
    static let notParticiples: Set<String> = [
        "building", "buildings", "painting", "paintings", "ceiling", "clothing", "evening", "morning",
        "railing", "railings", "awning", "awnings", "sibling", "pudding", "stuffing", "frosting", "icing",
        "topping", "toppings", "dressing", "wedding", "lightning", "bedding", "sling", "swing", "spring",
        "string", "strings", "thing", "things", "king", "wing", "wings", "ring", "rings", "ceiling", "dumpling",
        "dumplings", "seedling", "seedlings", "duckling", "ducklings", "gosling", "earring", "earrings",
        "herring", "landing", "lodging", "parking", "crossing", "clearing", "setting", "sapling",
        "hundred", "sacred", "naked", "wicked", "beloved", "rugged", "speed", "steed", "breed", "seed",
        "seeds", "weed", "weeds", "reed", "reeds", "shed", "sled", "bed", "bred", "feed", "need",
        "striped", "spotted", "dotted", "checkered", "chequered", "colored", "coloured", "multicolored",
        "multicoloured", "feathered", "wrinkled", "sliced", "cooked", "fried", "grilled", "curved", "pointed",
        "decorated", "stuffed", "patterned", "crowded", "closed", "towering", "sled", "shed", "bled", "fled", "sped", "ping", "viking",
        "vikings", "pudding", "nothing", "anything", "everything", "something", "during", "hedgehog",
    ]
    /// -ly words that are nouns or adjectives, not adverbs.
    static let notAdverbs: Set<String> = [
        "family", "belly", "jelly", "butterfly", "dragonfly", "firefly", "lily", "holly", "bully", "gully",
        "trolley", "melancholy", "italy", "sicily", "assembly", "rally", "alley", "valley", "daily", "lonely",
        "friendly", "lovely", "curly", "woolly", "ugly", "early", "elderly", "hilly", "bubbly", "sparkly",
        "prickly", "wobbly", "fly", "housefly", "anomaly", "monopoly", "supply", "jolly",
    ]
    static let irregularPlurals: [String: String] = [
        "people": "person", "men": "man", "women": "woman", "children": "child", "mice": "mouse",
        "geese": "goose", "teeth": "tooth", "feet": "foot", "oxen": "ox", "leaves": "leaf", "knives": "knife",
        "wolves": "wolf", "calves": "calf", "halves": "half", "shelves": "shelf", "loaves": "loaf",
        "cacti": "cactus", "fungi": "fungus", "wives": "wife", "lives": "life", "scarves": "scarf",
    ]
    static let invariantNouns: Set<String> = [
        "sheep", "fish", "deer", "moose", "bison", "series", "species", "aircraft", "salmon", "trout", "shrimp",
        "swiss", "glasses", "scissors", "pliers", "tweezers", "clippers", "news",
    ]
    /// Singular nouns that end in "s" (not to be stripped; pluralised with "-es").
    static let singularInS: Set<String> = [
        "bus", "gas", "grass", "glass", "class", "cross", "dress", "chess", "compass", "octopus", "cactus",
        "walrus", "hippopotamus", "rhinoceros", "platypus", "asparagus", "hummus", "citrus", "canvas", "lens",
        "iris", "tennis", "bus", "cypress", "lotus", "mattress", "campus", "circus", "virus", "bonus",
    ]
}
