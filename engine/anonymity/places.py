"""Place names of Kreis Soest, and the rule which of them re-identify.

Rule: the county's 14 towns and municipalities (Städte und Gemeinden) may be named — each has
at least about 8,000 inhabitants, and the partners are organised by them (the youth office *for
Werl*, the counselling centre *in Lippstadt*). Every **Ortsteil below them** (villages and
districts, most with a few hundred to a few thousand inhabitants) is a finding: "eine Familie
aus Kallenhardt mit drei Kindern" points at one household. The core towns themselves (Soest,
Lippstadt …) are not Ortsteile here. Village names that are also ordinary words or bigger cities
elsewhere ("Horn", "Berge", "Bremen", "Lohe", "Menzel") count only after a place preposition
("in", "aus", "nach", "bei", "Ortsteil") so that "Horn" in "ein Horn" stays clean.
"""

from __future__ import annotations

__all__ = ["AMBIGUOUS_VILLAGES", "TOWNS", "VILLAGES"]

TOWNS = frozenset(
    {
        "Soest", "Lippstadt", "Werl", "Warstein", "Geseke", "Erwitte", "Rüthen", "Bad Sassendorf",
        "Ense", "Lippetal", "Möhnesee", "Welver", "Wickede", "Anröchte",
    }
)  # fmt: skip

VILLAGES = frozenset(
    {
        # Soest
        "Ampen", "Bergede", "Deiringsen", "Enkesen", "Epsingsen", "Hattrop", "Hattropholsen",
        "Hiddingsen", "Katrop", "Lendringsen", "Meckingsen", "Müllingsen", "Ostönnen", "Paradiese",
        "Röllingsen", "Ruploh", "Thöningsen",
        # Lippstadt
        "Bad Waldliesborn", "Waldliesborn", "Benninghausen", "Bökenförde", "Cappel", "Dedinghausen",
        "Eickelborn", "Esbeck", "Garfeln", "Hellinghausen", "Herringhausen", "Hörste", "Lipperbruch",
        "Lipperode", "Overhagen", "Rebbeke", "Rixbeck",
        # Werl
        "Blumenthal", "Büderich", "Budberg", "Hilbeck", "Holtum", "Mawicke", "Niederbergstraße",
        "Oberbergstraße", "Sönnern", "Westönnen",
        # Warstein
        "Allagen", "Belecke", "Hirschberg", "Niederbergheim", "Sichtigvor", "Suttrop", "Waldhausen",
        # Geseke
        "Ehringhausen", "Eringerfeld", "Langeneicke", "Mönninghausen", "Störmede", "Ermsinghausen",
        "Bönninghausen",
        # Erwitte
        "Bad Westernkotten", "Westernkotten", "Eikeloh", "Merklinghausen", "Norddorf", "Schallern",
        "Seringhausen", "Stirpe", "Völlinghausen", "Weckinghausen",
        # Rüthen
        "Altenrüthen", "Drewer", "Hemmern", "Kallenhardt", "Kellinghausen", "Langenstraße",
        "Heddinghausen", "Meiste", "Nettelstädt", "Oestereiden", "Weiberg", "Westereiden",
        # Bad Sassendorf
        "Beusingsen", "Bettinghausen", "Elfsen", "Gabrechten", "Heppen", "Herringsen", "Lohne",
        "Neuengeseke", "Opmünden", "Ostinghausen", "Weslarn",
        # Ense
        "Bilme", "Bittingen", "Gerlingen", "Höingen", "Lüttringen", "Niederense", "Oberense",
        "Parsit", "Ruhne", "Sieveringen", "Volbringen", "Waltringen",
        # Lippetal
        "Herzfeld", "Hovestadt", "Lippborg", "Oestinghausen", "Brockhausen", "Heintrop", "Hultrop",
        "Krewinkel", "Nordwald", "Schoneberg",
        # Möhnesee
        "Körbecke", "Delecke", "Günne", "Wamel", "Brüningsen", "Echtrop", "Ellingsen", "Berlingsen",
        "Wippringsen", "Theiningsen", "Hewingsen", "Büecke", "Drüggelte", "Stockum",
        # Welver
        "Berwicke", "Borgeln", "Dinker", "Dorfwelver", "Eilmsen", "Einecke", "Flerke", "Illingen",
        "Klotingen", "Merschede", "Nateln", "Recklingsen", "Scheidingen", "Schwefe", "Stocklarn",
        "Vellinghausen", "Blumroth", "Kirchwelver",
        # Wickede (Ruhr)
        "Echthausen", "Wiehagen", "Schlückingen", "Wimbern",
        # Anröchte
        "Altengeseke", "Effeln", "Klieve", "Mellrich", "Altenmellrich", "Robringhausen", "Uelde",
        "Waltringhausen",
    }
)  # fmt: skip

#: Village names that are also words or other places: a finding only after a place preposition.
AMBIGUOUS_VILLAGES = frozenset(
    {"Horn", "Berge", "Bremen", "Lohe", "Menzel", "Mülheim", "Neuhaus", "Westrich", "Paradiese",
     "Cappel", "Stockum", "Blumenthal", "Herzfeld", "Günne", "Meiste", "Heppen", "Schwefe"}
)  # fmt: skip
