"""Crisis detection: does a caregiver's message signal danger to self or others right now?

It runs on every inbound message, before anything else, so it is plain regular expressions,
compiled at import, over a normalised copy of the text: lower case, accents and punctuation
dropped, contractions spelled out ("can't" -> "can not"), in-word leetspeak undone ("k!ll"),
letter runs squeezed ("killll", "diiie" -> "kil", "die"; the patterns are squeezed the same
way), and SMS shorthand expanded ("wanna", "u", "im", "myslef"). Misspellings that matter
("suicde", "sucide", "heart atack") are in the patterns themselves.

Recall comes first: a false alarm costs a kind text with the 988 number, a miss can cost a
life. Look-alikes (idioms such as "my feet are killing me", "it finally hit me", "hit me up",
"burning myself out") are excluded only where the idiom's own span covers the matched phrase,
never for the whole message: "this paperwork is killing me and I want to die" still matches.
Deliberate choices:

- A headache is not an emergency ("a killer headache" never matches); "the worst headache of
  her life" and a sudden severe headache are stroke signs and do.
- History is not an emergency: "he had a stroke in 2019", "she fell last year" do not match;
  "having a stroke", "just had a stroke", "fell and can't get up" do.
- Hyperbole that names a person is answered: "I could strangle my brother", "mom will kill me
  if I put her in a home", "I'd rather die than...", "I can barely breathe" match. Those are
  the accepted false alarms; "I could kill for a coffee", "this is killing me" are not.
- "kys" (kill yourself) is read as suicide talk, like "kms"; an expected death ("mom is on
  hospice, she's dying") and grief are not a crisis.

``detect`` returns the category and a short fixed label of what matched, never message text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class CrisisCategory(StrEnum):
    SUICIDE = "suicide"
    SELF_HARM = "self_harm"
    HARM_TO_OTHERS = "harm_to_others"
    ABUSE = "abuse"
    MEDICAL_EMERGENCY = "medical_emergency"


@dataclass(frozen=True)
class CrisisMatch:
    category: CrisisCategory
    pattern: str  # a fixed label such as "want to die"; never the caregiver's words


# --- normalisation ----------------------------------------------------------------------

# Words whose double letter tells them apart from another word once squeezed ("feel"/"fell").
_KEEP_DOUBLES = frozenset({"feel", "feels", "feeling", "feelings", "odd"})
_REPEATS = re.compile(r"([a-z])\1+")


def _squeeze(word: str) -> str:
    return word if word in _KEEP_DOUBLES else _REPEATS.sub(r"\1", word)


_KEPT_WORDS = re.compile(r"\b(?:" + "|".join(sorted(_KEEP_DOUBLES)) + r")\b")
_LAUGHING = re.compile("[\U0001f602\U0001f923\U0001f606\U0001f605\U0001f639\U0001f480]")
_COMBINING = re.compile("[\u0300-\u036f]")
_APOSTROPHES = re.compile("[\u2018\u2019\u02bc\u00b4]")
_LEET = re.compile(r"(?<=[a-z])[01!|3@$](?=[a-z])")
_LEET_LETTERS = {"0": "o", "1": "i", "!": "i", "|": "i", "3": "e", "@": "a", "$": "s"}
_NOT_WORD = re.compile(r"[^a-z0-9' ]+")

_NEGATIONS = {"can't": "can not", "won't": "will not", "ain't": "is not", "shan't": "shall not"}
_ENDINGS = (
    ("n't", " not"),
    ("'m", " am"),
    ("'re", " are"),
    ("'ve", " have"),
    ("'ll", " will"),
    ("'d", " would"),
)
_IS_AFTER = frozenset({"he", "she", "it", "that", "what", "there", "who", "everyone", "nobody", "someone"})


def _expand(word: str) -> str:
    """One word with an apostrophe, spelled out: "can't" -> "can not", "she's" -> "she is"."""
    word = word.strip("'")
    if word in _NEGATIONS:
        return _NEGATIONS[word]
    for ending, expansion in _ENDINGS:
        if word.endswith(ending):
            return word[: -len(ending)] + expansion
    if word.endswith("'s") and word[:-2] in _IS_AFTER:
        return word[:-2] + " is"
    return word.replace("'", "")


_SHORTHAND_TABLE = """
do not: dont dnt
does not: doesnt dosent doesent
did not: didnt
can not: cant cnt cannot
could not: couldnt
will not: wont
would not: wouldnt
should not: shouldnt
is not: isnt aint
was not: wasnt
were not: werent
are not: arent
have not: havent
has not: hasnt
i am: im
i have: ive
he is: hes
she is: shes
they are: theyre
you are: youre
that is: thats
what is: whats
it is: its
want to: wanna wnna
going to: gonna gunna gna finna boutta
trying to: tryna
got to: gotta
you: u
your: ur
yourself: urself yourslef urslef
are: r
and: n
be: b
please: pls plz
right now: rn
people: ppl
someone: some1 sum1
everyone: every1
anyone: any1
to: 2
for: 4
myself: myslef mysef myslf myelf meself mysel mself myselfe
himself: himslef
herself: herslef
dying: dieing dyin dyng diyng
killing: killin
cutting: cuttin
hurting: hurtin
breathing: breathin
bleeding: bleedin
choking: chokin
having: havin
trying: tryin
going: goin
anymore: anymor nemore anymoe anymroe
dead: ded
the: hte teh
about: abt
a lot: alot
boyfriend: bf
girlfriend: gf
husband: hubby hubs dh
mom: mommy mama mum momma
dad: daddy pops papa
grandma: granny nana grams
grandpa: gramps granddad grandad
"""
_SHORTHAND = {
    _squeeze(short): " ".join(_squeeze(word) for word in full.split())
    for full, shorts in (line.split(":") for line in _SHORTHAND_TABLE.strip().splitlines())
    for short in shorts.split()
}


def normalise(text: str) -> str:
    """The text the patterns read: lower-case words of letters and digits, single spaces."""
    text = text.lower()
    if not text.isascii():
        text = _LAUGHING.sub(" lol ", text)
        text = _APOSTROPHES.sub("'", _COMBINING.sub("", unicodedata.normalize("NFKD", text)))
    text = _NOT_WORD.sub(" ", _LEET.sub(lambda m: _LEET_LETTERS[m.group()], text.replace("`", "'")))
    if "'" in text:
        text = " ".join(_expand(word) if "'" in word else word for word in text.split())
    if "fee" in text or "odd" in text:  # squeeze every word at once; kept words hide in upper case
        text = _KEPT_WORDS.sub(lambda m: m.group().upper(), text)
    text = _REPEATS.sub(r"\1", text).lower()
    return " ".join(_SHORTHAND.get(word, word) for word in text.split())


# --- patterns -----------------------------------------------------------------------------

# Regexes over normalised text in plain spelling. Macros in <ANGLE> brackets are expanded and
# every literal word is squeezed like the text, so "kill" in a pattern reads "kil".
_MACROS = (
    (
        "<SUBJ>",
        r"(?:he|she|they|mom|mother|dad|father|husband|wife|grandma|grandpa|my <REL>"
        r"|the (?:aide|home aide|caregiver|nurse|patient)|(?:his|her) (?:aide|caregiver|nurse|son|daughter))",
    ),
    ("<OBJ>", r"(?:him|her|them|someone|somebody|anyone|anybody|everyone|everybody|people|mom|dad|my <REL>)"),
    (
        "<REL>",
        r"(?:mom|mother|dad|father|husband|wife|partner|son|daughter|brother|sister|grandma|grandmother"
        r"|grandpa|grandfather|aunt|uncle|kids|kid|child|children|baby|patient|parents|mother in law"
        r"|father in law|boyfriend|girlfriend|stepdad|stepfather|stepmom|stepmother|ex|neighbor|aide)",
    ),
    (
        "<SELF>",
        r"(?:myself|my self|himself|him self|herself|her self|themselves|themself|yourself|your self)",
    ),
    (
        "<BODY>",
        r"(?:head|back|arm|arms|leg|legs|hip|shoulder|wrist|knee|neck|foot|feet|hand|hands|finger|toe"
        r"|face|feelings|pride|chances|case|wheelchair|walker|chair|bed|car|cart|button|stroller)",
    ),
    (
        "<PILLS>",
        r"(?:pills|pill|meds|medication|medications|medicine|tablets|capsules|sleeping pills"
        r"|painkillers|pain pills|pain meds|oxy|xanax|insulin|morphine)",
    ),
    ("<BREATH>", r"(?:breathing|breathe|breath|breating|breahting|brething|breathng|bre?athe?)"),
    (
        "<ACUTE>",
        r"(?:heart ?attack|hart ?attack|stroke|strok|storke|seizure|seizures|siezure|cardiac arrest)",
    ),
    ("<NOW_GAP>", r"(?:(?!last\b|ago\b|years?\b|months?\b|weeks?\b|yesterday\b|before\b|once\b|like\b)\w+ )"),
    ("<W>", r"(?:\w+ )"),
)

# "category | label", then the regex on indented lines (joined without their indentation, so a
# line may only break before a "|"). In priority order: the first match outside every idiom
# wins. A group named ``core`` marks what an idiom must cover to excuse a match (default: all).
_PATTERN_TABLE = r"""
suicide | suicide
    \bsu(?:i[cs]i?|[cs]i)d
suicide | kms/kys
    \b(?P<core>k[my]s)\b
suicide | kill self
    \b(?:kill|killing|kills|killed|hang|hanging|shoot|shooting|drown|drowning|poison|poisoning|suffocate|gas
    |electrocute) ?<SELF>
suicide | unalive
    \b(?:un ?alive|sewer ?slide)\b
suicide | want to die
    \b(?:wants?|wanted|wanting|wish|wishes|wishing|ready|plans?|planning|trying|try|tries|prefers?|deserves?
    |needs?|prays?|praying|longing|hoping|hopes?) to die\b
suicide | want to be dead
    \b(?:wants?|wanted|wish|wishes|ready|rather|prefers?) (?:to )?be dead\b
suicide | thinking about dying
    \b(?:think|thinking|thought|thinks) (?:a lot |so much |constantly |always )?about (?:dying|being dead
    |not being here|not existing|not waking up|ending it)\b
suicide | wish dead
    \bwish (?:that )?i (?:was|were|am|could be|would be|could|would|can|will) (?:just )?(?:die|be dead|dead)\b
suicide | rather die
    \b(?:would|id|d) rather (?:just )?(?:die|be dead)\b
suicide | should die
    \bi (?:should|deserve to) (?:just )?(?:die|be dead)\b
suicide | want it to end
    \bwant (?:it|this|everything|it all|this all|my life|life|the pain) (?:all )?to (?:end|stop|be over)\b
suicide | end my life
    \bend(?:ing)? (?:it all|my life|my own life|everything)\b
    |\bend(?:ing)? (?:it|things) (?:tonight|today|now|for good|forever|soon)\b
suicide | end my life
    \b(?:want|going|ready|plan|planning|about|thinking about|thought about|decided) (?:to )?end(?:ing)? (?:it
    |things)\b(?! with| here| there| for now| on\b)
suicide | take my life
    \btak(?:e|ing) my (?:own )?life\b(?! back)
suicide | better off without me
    \bbetter off (?:without me|dead|with me gone|if i (?:was|were|am|was not|were not) (?:not )?(?:gone|dead
    |here|around|alive))\b
suicide | no reason to live
    \b(?:no|nothing|no more) (?:reason|point|purpose) (?:in |to |for )?(?:live|living|go on|going on|be alive
    |being alive|be here|being here)\b
    |\bnothing (?:left )?to live for\b
    |\bwhat is the point (?:of |in )?(?:living|life|going on|being alive|being here|anything|any of it)\b
suicide | not worth living
    \b(?:life is|living is|life is not|it is not) (?:not |no longer )?worth (?:it|living)\b
    |\bnot worth living\b
suicide | tired of living
    \b(?:tired|sick) of (?:living|being alive|life)\b|\bdone with (?:life|living)\b
    |\bgiv(?:e|ing) up on (?:life|living)\b
suicide | do not want to live
    \b(?:do not|did not|no longer|never) want to (?:be alive|exist|be here (?:anymore|any more|no more)
    |be around (?:anymore|any more)|go on|wake up|keep living|live anymore|live any more)\b
suicide | do not want to live
    \b(?:do not|no longer|never) want to live\b(?! (?:with|in|near|there|here|at|on|by|so|that|far|close
    |together|alone|long|past|to see|through))
suicide | never wake up
    \b(?:want|wish|hope|pray|praying|rather|like) <W>{0,4}?(?:never|not|do not|will not|would not) wake up\b
    |\bsleep (?:forever|and never wake)\b
suicide | god take me
    \bgod (?:would |will |to |could |please |just )*takes? me\b
suicide | can not go on
    \bcan not (?:go on|keep going|do this|take it|take this|handle it|live like this) (?:anymore|any more
    |no more|living|like this)\b
suicide | overdose on purpose
    \b(?:want|wanted|going|plan|planning|ready|thinking|thought|tempted|about
    |try|trying)(?: about| of)? (?:to )?(?:overdos(?:e|ing)|od
    |tak(?:e|ing) all (?:of )?(?:my|the|her|his) <PILLS>|swallow(?:ing)? all <W>{0,2}?<PILLS>)\b
suicide | stockpiling pills
    \b(?:stockpil\w*|hoard\w*|saving up|saved up
    |collecting|saving) (?:all |up )?(?:my |her |his |the )?<PILLS>\b
suicide | jump
    \bjump(?:ing)? (?:off|from|in front of) (?:a|the|this|that) (?:bridge|building|roof|cliff|balcony
    |overpass|train|car|bus|truck|tower|ledge|window)\b
    |\b(?:step|walk|run|throw myself|jump)(?:ing)? in front of (?:a|the) (?:train|car|bus|truck)\b
suicide | drive into
    \b(?:driv(?:e|ing)|crash(?:ing)?|steer(?:ing)?|swerv(?:e|ing)) (?:my car |the car |my truck )?(?:off|into
    |of) (?:a|the) (?:bridge|cliff|tree|wall|river|lake|overpass|pole|oncoming traffic|traffic|semi|truck)\b
    |\bcrash(?:ing)? (?:my|the) car on purpose\b
suicide | cut wrists
    \b(?:slit|slice|slicing|cut|cutting|slash|slashing) (?:my|her|his|their) (?:wrist|wrists|throat)\b
suicide | goodbye
    \b(?:this is (?:my )?goodbye|goodbye forever|my final goodbye|my last goodbye)\b
self_harm | hurt myself
    \b(?P<core>(?:hurt|hurting|hurts|harm|harming|harms|cut|cuts|cutting|burn|burning|burns|burned|burnt|hit
    |hitting|punch|punching|starve|starving|stab|stabbing|stabbed|bruise|bruising|scratch|scratching) ?<SELF>)
self_harm | self-harm
    \bself ?(?:harm|harming|injury|injuring|injure|injured|mutilat\w*)\b
self_harm | cutting
    \b(?:cutting|cut) again\b|\burges? to (?:cut|self harm|burn)\b|\bmake myself bleed\b
abuse | someone hurts them
    \b<SUBJ> <W>{0,3}?(?P<core>(?:hits|hit|hitting|beats|beat|beating|punches|punched|punching|slaps|slapped
    |slapping|kicks|kicked|kicking|chokes|choked|choking|strangles|strangled|pushes|pushed|shoves|shoved|hurts
    |hurt|hurting|grabs|grabbed|threatens|threatened|threatening|rapes|raped|abuses|abused|abusing|attacks
    |attacked|attacking|bit|bites|stabbed|shot|burned|burnt) me)\b
abuse | threatened
    \b<SUBJ> <W>{0,3}?(?:will|would|might|is going to|going to|could|wants to|want to|threatened to
    |threatens to|tried to|tries to|trying to|said he would|said she would) (?P<core>(?:hurt|kill|hit|beat
    |strangle|choke|stab|shoot|rape|poison) me)\b
abuse | afraid of someone
    \b(?:afraid|scared|terrified|frightened) (?:for my life|of (?:him|her|my <REL>)\b(?! (?:getting|falling
    |being|dying|having|not|going|leaving|wandering|driving)))
abuse | not safe
    \b(?:do not|never) feel safe (?:at home|in my (?:own )?home|in the house|with (?:him|her|my <REL>)
    |around (?:him|her|my <REL>))\b
    |\b(?:i am|we are|mom is|she is|he is) not safe (?:at home|here|with (?:him|her|my <REL>)|around)\b
abuse | abuse
    \bdomestic (?:violence|abuse)\b|\b(?P<core>abus(?:e|es|ed|ing|ive|er))\b
abuse | sexual abuse
    \b(?:raped|rape|rapes|raping|molested|molesting|molests|sexually assaulted|sexual assault|assaulted)\b
    |\btouch(?:es|ed|ing)? me (?:inappropriately|sexually|down there|without)\b
abuse | elder abuse
    \b<SUBJ> <W>{0,2}?(?P<core>(?:hits|hit|hitting|slaps|slapped|slapping|beats|beat|beating|punches|punched
    |kicks|kicked|shoves|shoved|pushes|pushed|chokes|choked|grabs|grabbed|hurts|hurt|hurting|abuses|abused
    |abusing|pinches|pinched|roughed up|roughs up) (?:her|him|them|mom|dad|my <REL>|grandma|grandpa))\b
harm_to_others | hurt someone
    \b(?:i|going to|want to|wanted to|about to|ready to|tempted to|urge to|feel like|thinking about
    |thought about)\b <W>{0,4}?(?P<core>(?:hurt|harm|kill|hit|beat|strangle|smother|choke|shoot|stab|slap
    |slapped|shake|shook|punch|punched|smack|smacked|murder|poison|suffocate|drown) (?:<OBJ>|you))\b
harm_to_others | kill someone
    \b(?P<core>(?:kill|killing|murder|strangle|smother|suffocate|poison|stab|shoot) <OBJ>)\b
harm_to_others | pillow over face
    \bpillow over (?:her|his|their|moms|dads) face\b
harm_to_others | gun
    \bload(?:ed|ing)? (?:a|my|the|his|her) gun\b|\b(?:get|got|grab|getting|grabbing) (?:my|the|a) gun (?:and
    |to)\b
suicide | kill me
    \b(?P<core>kill me)\b
abuse | hit me
    \b(?P<core>(?:hits|hit|beats|beat|beating|punches|punched|slaps|slapped|kicks|kicked|chokes|choked|choking
    |strangles|strangled|strangling) me)\b
medical_emergency | not breathing
    \b(?:not|stopped|quit|can not|could not|trouble|struggling|struggles|difficulty|hard time|barely|labored
    |laboured|problems|problem|trouble with|difficulty with) <BREATH>\b
medical_emergency | not breathing
    \b(?:gasping|turning blue|suddenly short of breath|very short of breath)\b
    |\bcan not catch (?:her|his|my|their) breath\b
    |\b(?:lips|face) (?:are |is |look |looks |turned |turning )?(?:blue|gray|grey)\b
medical_emergency | choking
    \b(?:is|are|am|keeps|started|he is|she is) choking\b
medical_emergency | unresponsive
    \b(?P<core>unresponsive|unconscious|not responding|not responsive|non responsive|nonresponsive|no pulse
    |heart stopped|heart has stopped|lost consciousness|losing consciousness)\b
medical_emergency | will not wake up
    \b(?P<core>(?:will not|can not|could not|is not|not) wak(?:e|ing) (?:up|her up|him up|her|him|mom|dad
    |my <REL>))\b
medical_emergency | collapsed
    \b<SUBJ> <W>{0,2}?(?:just )?(?P<core>collapsed|fainted|passed out|blacked out|went limp|is limp
    |slumped over|keeled over)\b
medical_emergency | found down
    \bfound (?:him|her|them|mom|dad|my <REL>) (?:on the floor|on the ground|dead|unresponsive|unconscious
    |not breathing|passed out|collapsed|face down)\b
medical_emergency | dead
    \b(?:think|afraid|scared|worried|fear|pretty sure|i believe) (?:that )?<SUBJ> (?:is|might be|may be
    |could be) dead\b
medical_emergency | chest pain
    \bchest (?:pain|pains|pian|hurts|hurting|is hurting|tightness|is tight|feels tight|pressure|is pounding
    |is heavy|feels heavy)\b|\bpain in (?:my|her|his|their) chest\b
medical_emergency | heart attack or stroke
    \b(?P<core>(?:having|just had|think <W>{0,3}?had|thinks <W>{0,3}?had) (?:a |an |another )?<ACUTE>)\b
medical_emergency | heart attack or stroke
    \b(?:cardiac arrest|signs of (?:a )?(?:stroke|heart attack))\b
    |\b(?:is|are|keeps|started|he is|she is) (?:seizing|convulsing)\b
medical_emergency | stroke signs
    \b(?:face|mouth|smile|lip) (?:is |looks |seems |has |started )?(?:drooping|droopy|droop|crooked|lopsided
    |sagging)\b|\b(?:drooping|droopy) (?:face|smile|mouth)\b
medical_emergency | stroke signs
    \b(?:slurring|slurred|slurs) (?:her |his |my |their )?(?:words|speech)\b
    |\bspeech (?:is |was |sounds |seems )?(?:slurred|garbled|slurring)\b
medical_emergency | stroke signs
    \b(?:one|left|right) side (?:of (?:her|his|my|the) (?:body|face) )?(?:is |went |seems |feels )?(?:numb
    |weak|limp|drooping|droopy|paralyzed|dead)\b|\b(?:arm|leg) (?:is |went |suddenly )?(?:numb|limp
    |paralyzed)\b|\bsudden (?:numbness|weakness|confusion|paralysis|blindness|vision loss)\b
medical_emergency | worst headache
    \b(?:worst|worse|most painful) headache (?:of|in) (?:my|her|his|their) (?:entire |whole )?(?:life|lives)\b
    |\b(?:thunderclap|sudden severe|sudden terrible|sudden excruciating) headache\b
medical_emergency | fall
    \b(?:fell|fallen|fall|falls|falling|slipped|tripped)\b <NOW_GAP>{0,5}?(?:can not|could not|unable to
    |is not able to|not able to|will not) (?:get up|stand|move|get (?:her|him|them) up|get off the floor)\b
medical_emergency | fall
    \b(?:fell|fallen|fall|falls|slipped|tripped)\b <NOW_GAP>{0,4}?(?:hit|hurt|bumped|banged|cracked|smacked
    |broke|broken|has broken) (?:her|his|my|their) (?:head|hip)\b
medical_emergency | fall
    \b(?:fell|fallen)\b <NOW_GAP>{0,3}?(?:is |and is |and )?(?:bleeding|not moving|unconscious|unresponsive
    |not responding)\b
    |\b(?:on the floor|on the ground) and (?:can not|could not|will not|is not) (?:get up|move|respond
    |responding|moving)\b
    |\bhit (?:her|his|my|their) head <W>{0,3}?(?:bleeding|unconscious|passed out|throwing up|vomiting
    |confused)\b
medical_emergency | bleeding
    \bbleeding (?:a lot|heavily|everywhere|badly|profusely|out|and will not stop|that will not stop)\b
    |\b(?:will not|can not) stop (?:the )?bleeding\b
    |\b(?:blood everywhere|so much blood|lots of blood|losing blood)\b
    |\b(?:coughing|throwing|vomiting|puking) (?:up )?blood\b
medical_emergency | overdose
    \b(?P<core>over ?dos(?:e|ed|es|ing))\b
medical_emergency | overdose
    \b(?:i|he|she|they|<SUBJ>|to|might|may|could|almost|nearly) (?:just |might have |may have |has
    |have |had )?(?:od|oded|oding|ods)\b|\b(?:i|he|she|they|<SUBJ>) (?:just )?odd\b
medical_emergency | overdose
    \b(?:took|taken|take|swallowed|ate|given|gave (?:him|her)) (?:to many|too many|a handful of|a bunch of
    |a fistful of|a bottle of|a whole bottle of|the whole bottle of|the entire bottle of|an entire bottle of
    |to much|too much) (?:of )?(?:her |his |my |the |their )?<PILLS>\b
    |\btook all (?:of )?(?:my|her|his|the) <PILLS> at once\b
medical_emergency | low blood sugar
    \bblood sugar (?:is )?(?:dropping|crashing|very low|dangerously low|too low)\b
medical_emergency | poisoning
    \b(?:swallowed|drank|ate|ingested|drinking|swallowing) (?:some |a |the |a bottle of |a cup of )?(?:bleach
    |antifreeze|drain cleaner|cleaner|detergent|laundry pod|tide pod|rat poison|poison|lighter fluid|pesticide
    |weed killer)\b
medical_emergency | call 911
    \b(?:call|calling|called|dial|dialing|dialed|need|needs|get|send|sending) <W>{0,2}?(?:911|nine one one
    |an ambulance|ambulance|paramedics|ems)\b
medical_emergency | emergency
    \b(?P<core>medical emergency|is an emergency|emergency help|having an emergency)\b
medical_emergency | dying
    \b(?P<core>i am dying)\b
medical_emergency | wandered off
    \b<SUBJ> <W>{0,4}?(?:wandered|walked|wandering) (?:off|away|out of the house)\b
    |\b<SUBJ> (?:is|went|has gone|gone|has been) missing\b(?! (?:her|him|his|a|an|the|some|my|out|you|them
    |home|work|meals|doses|appointments|teeth|a tooth))
"""

# What an ordinary phrase looks like, then its regex (same layout): a pattern's match inside
# one of these spans is not a crisis.
_IDIOM_TABLE = r"""
kilometres
    \b\d+ ?kms\b
shooting oneself in the foot
    \bshoot <SELF> in the foot\b
hurt while caregiving
    \b(?:hurt|hurting|hurts|injured) <SELF> (?:lifting|moving|carrying|transferring|helping|pulling|pushing
    |bending|at the gym|at work|playing|cooking|gardening|shoveling|trying to (?:lift|move|get|carry|help
    |catch))\b
hurt in a fall
    \b(?:fell|falling|fall|slipped|tripped) <W>{0,3}?(?:and )?(?:hurt|bruised|cut) <SELF>\b
accidents
    \b(?:accidentally|accidently|by accident) (?:hurt|cut|burned|burnt|stabbed|hit) <SELF>\b
    |\b(?:hurt|cut|burned|burnt|stabbed|hit) <SELF> (?:by accident|accidentally)\b
kitchen cuts
    \bcut <SELF> (?:shaving|cooking|chopping|slicing|opening|on (?:a|the|some) (?:knife|can|glass|paper|lid
    |blade))\b
kitchen burns
    \b(?:burned|burnt|burn) <SELF> (?:on (?:a|the) (?:stove|oven|oven rack|pan|iron|kettle|grill|toaster
    |coffee|tea)|cooking|ironing|making)\b
burnout
    \b(?:burn|burning|burned|burnt|burns) <SELF> out\b
cutting oneself off or some slack
    \bcut <SELF> (?:off|some slack|slack)\b
bumping into furniture
    \b(?:hit|hitting|bumped|banged) <SELF> (?:on|against|with) (?:a|the) (?:door|cabinet|table|counter|wall
    |corner|shelf|bed|car|drawer|frame)\b
needle sticks
    \b(?:stabbed|stab|poked|pricked|stuck) <SELF> with (?:a|the|her|his|my) (?:needle|syringe|pin|lancet
    |fork|insulin pen)\b
a body part or thing, not a person ("hit her head", "hurt her feelings", "pushed his wheelchair")
    \b(?:hit|hurt|bumped|banged|cut|broke|injured|bruised|twisted|sprained|hits|hurts|pushed|pushes|push
    |shake|shook|kill|killed) (?:her|his|their|my|your) <BODY>\b
hit me up, hit me back
    \b(?:hit|hits) (?:me|him|her|them) (?:up|back)\b
it hit me (a realisation)
    \b(?:it|that|this|reality|the reality|realization|the realization|grief|the grief|everything|the news
    |the truth|the diagnosis|what) <W>{0,2}?(?:hit|hits) (?:me|him|her)\b|\bhit me like a\b
beat me at a game, beats me why
    \b(?:beat|beats) (?:me|him|her|them) (?:at|in|to)\b|\b(?:it|that|this) beats me\b
    |\bbeats me (?:why|how|what|where|when|who|lol)\b
choked me up, kicked me out
    \b(?:choked|chokes) (?:me|him|her) up\b|\bkicked (?:me|him|her) (?:out|off)\b
pushed me to (encouraged), grabbed me a coffee
    \b(?:pushed|pushes|push|pushing) (?:me|him|her) (?:to|into|towards|toward)\b
    |\bgrabbed (?:me|him|her) (?:a|an|some)\b
shoot him a text
    \bshoot (?:him|her|them|me|you) (?:a|an) (?:text|message|email|note|line|quick|look)\b
stab in the back
    \bstab (?:him|her|me|them) in the back\b
kill with kindness
    \b(?:kill|killing|smother) (?:him|her|them|me) with (?:kindness|love|kisses|affection|attention|hugs)\b
it would kill him (to admit)
    \b(?:it|this|that|which) <W>{0,3}?kill (?:me|him|her|them)\b
you kill me, he kills me (funny)
    \byou kill me\b|\bkills me\b
substance abuse
    \b(?:substance|drug|drugs|alcohol|opioid|opiate|prescription|pill|drug and alcohol) abuse\b
    |\babus(?:e|ed|ing) (?:of )?(?:alcohol|drugs|substances|the system|power|privileges)\b
not responding to treatment or emails
    \bnot (?:responding|responsive) to (?:the )?(?:treatment|medication|meds|antibiotics|chemo|therapy
    |emails|texts|calls|messages|letters|my (?:texts|calls|emails|messages|letters))\b
my heart stopped (fright)
    \bmy heart <W>{0,2}?stopped\b
will not wake up until noon
    \b(?:will not|not) wak(?:e|ing) up (?:until|before|till|til|early|on time|in time|at)\b
passed out on the couch
    \bpassed out (?:on the (?:couch|sofa)|in (?:his|her|the) (?:chair|recliner|bed)|watching|early|asleep)\b
almost had a stroke, having a stroke reading this, has been having seizures
    \b(?:almost|nearly) (?:had|have|having) a\b
    |\bhaving a (?:stroke|heart attack) (?:reading|trying|looking|over|lol|haha)\b
    |\b(?:has|have|had) been having <W>{0,2}?<ACUTE>
asking about overdoses
    \b(?:risk|danger|prevent|avoid|afraid of an|worried about an|what counts as an|how much is an
    |what is an) overdose\b
in case of an emergency
    \b(?:in case of|in the event of|if there is|if|for|during|plan for) (?:an|a) (?:medical )?emergency\b
dying to, dying of laughter, dying here
    \bi am dying (?:to|of|from|for|laughing|here|lol|lmao|haha|inside|over)\b
"""

_PATTERN_WORD = re.compile(r"(?<!\\)[a-z]+")
_LEADING_BOUNDARY = re.compile(r"(?:^|(?<=\|))\\b")


def _table(table: str) -> list[tuple[str, str]]:
    """(head, regex) for each unindented head line and the indented regex lines under it."""
    entries: list[tuple[str, str]] = []
    for line in table.strip().splitlines():
        if line.startswith(" "):
            head, regex = entries[-1]
            entries[-1] = (head, regex + line.strip())
        else:
            entries.append((line.strip(), ""))
    return entries


def _compile(source: str) -> re.Pattern[str]:
    """Expand macros, squeeze literal words, and turn each leading ``\\b`` into a space.

    ``detect`` pads the text with spaces, so a leading space is a word boundary, and a pattern
    that starts with a literal lets ``re`` skip ahead instead of trying every position.
    """
    for macro, body in _MACROS:
        source = source.replace(macro, body)
    source = _LEADING_BOUNDARY.sub(" ", source)
    return re.compile(_PATTERN_WORD.sub(lambda m: _squeeze(m.group()), source))


_PATTERNS = tuple(
    (CrisisCategory(category.strip()), label.strip(), _compile(regex))
    for (category, label), regex in ((head.split("|"), regex) for head, regex in _table(_PATTERN_TABLE))
)
_IDIOMS = tuple(_compile(regex) for _, regex in _table(_IDIOM_TABLE))

LABELS = frozenset(label for _, label, _ in _PATTERNS)  # every value ``CrisisMatch.pattern`` can take


def _idiom_spans(text: str) -> list[tuple[int, int]]:
    return [match.span() for idiom in _IDIOMS for match in idiom.finditer(text)]


def detect(text: str) -> CrisisMatch | None:
    """The first crisis signal in ``text`` that no idiom explains away, or None."""
    normalised = f" {normalise(text)} "
    idioms: list[tuple[int, int]] | None = None
    for category, label, pattern in _PATTERNS:
        for match in pattern.finditer(normalised):
            if idioms is None:
                idioms = _idiom_spans(normalised)
            start, end = match.span("core") if "core" in pattern.groupindex else match.span()
            if not any(i_start <= start and end <= i_end for i_start, i_end in idioms):
                return CrisisMatch(category, label)
    return None
