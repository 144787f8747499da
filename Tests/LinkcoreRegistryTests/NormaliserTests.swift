import LinkcoreRegistry
import Testing

@Suite struct NormaliserTests {
    let n = FactsNormaliser()

    @Test func nameRemovesAllSpacingIncludingIdeographicSpace() {
        #expect(n.name("山田 太郎") == "山田太郎")
        #expect(n.name("山田\u{3000}太郎") == "山田太郎")
        #expect(n.name(" 山田　 太郎 ") == "山田太郎")
        #expect(n.name("山田\t太郎") == "山田太郎")
    }

    @Test func nameFoldsOldFormsButKeepsDistinctSurnamesApart() {
        #expect(n.name("髙橋 一郎") == n.name("高橋 一郎"))
        #expect(n.name("山﨑 花子") == n.name("山崎 花子"))
        #expect(n.name("齋藤 実") == n.name("斎藤 実"))
        #expect(n.name("齊藤 実") == n.name("斉藤 実"))
        #expect(n.name("渡邊") == "渡辺")
        #expect(n.name("渡邉") == "渡辺")
        #expect(n.name("澤田") == "沢田")
        // 斎藤 and 斉藤 are different surnames: not folded together.
        #expect(n.name("斎藤 実") != n.name("斉藤 実"))
        // Variation selectors (IVS) are dropped.
        #expect(n.name("葛\u{E0100}西") == "葛西")
    }

    @Test func nameWidthAndLatinCase() {
        #expect(n.name("ＳＭＩＴＨ　Ｊｏｈｎ") == "SMITHJOHN")
        #expect(n.name("smith john") == "SMITHJOHN")
        #expect(n.name("スミス・ジョン") == "スミスジョン")
    }

    @Test func kanaWidthHiraganaAndSpacing() {
        #expect(n.kana("ヤマダ タロウ") == "ヤマダタロウ")
        #expect(n.kana("やまだ　たろう") == "ヤマダタロウ")
        #expect(n.kana("ﾔﾏﾀﾞ ﾀﾛｳ") == "ヤマダタロウ")
        #expect(n.kana("ｻﾄｳ ﾊﾟｸ") == "サトウパク")
        #expect(n.kana("ゆーこ") == "ユーコ")
        #expect(n.kana("ユ-コ") == "ユーコ")
        #expect(n.kana("山田") == nil)
        #expect(n.kana("yamada") == nil)
        // Kana size and long vowels are not folded.
        #expect(n.kana("ヨウコ") != n.kana("ヨーコ"))
    }

    @Test func addressChomeBanchiGoAndHyphensAreOne() {
        let forms = [
            "東京都千代田区霞が関1丁目2番3号",
            "東京都千代田区霞が関1-2-3",
            "東京都千代田区霞が関１－２－３",
            "東京都千代田区霞が関１丁目２番３号",
            "東京都千代田区霞が関一丁目2番3号",
            "東京都 千代田区 霞が関 1‐2‐3",
            "東京都千代田区霞が関1丁目2番地3",
            "東京都千代田区霞が関1丁目2-3",
            "東京都千代田区霞が関1ー2ー3",
            "東京都千代田区霞が関1丁目2番地の3",
        ]
        for form in forms { #expect(n.address(form) == "東京都千代田区霞が関1-2-3", "\(form)") }
    }

    @Test func addressBuildingsRoomsAndVariants() {
        #expect(n.address("横浜市港北区本町2丁目3番4号　サンハイツ 201号室") == n.address("横浜市港北区本町2-3-4 サンハイツ201"))
        #expect(n.address("茅ヶ崎市本町1-2-3") == n.address("茅ケ崎市本町1-2-3"))
        #expect(n.address("髙﨑市本町1-2-3") == n.address("高崎市本町1-2-3"))
        #expect(n.address("中央区二十三丁目1番") == "中央区23-1")
        #expect(n.address("大字中野123番地") == "大字中野123")
        // The long-vowel mark in a building name stays.
        #expect(n.address("本町1-2-3 コーポ") == "本町1-2-3コーポ")
        // Different numbers stay different.
        #expect(n.address("本町1-2-3") != n.address("本町1-2-4"))
        // Kanji numerals that are part of a place name are not numbers.
        #expect(n.address("千代田区一番町5番") == "千代田区一番町5")
    }

    @Test func birthDateFormats() {
        for form in ["1975-04-01", "1975/4/1", "19750401", "1975年4月1日", "１９７５－０４－０１", "昭和50年4月1日", "S50.4.1", "s50/04/01"] {
            #expect(n.birthDate(form)?.description == "1975-04-01", "\(form)")
        }
        #expect(n.birthDate("平成元年1月8日")?.description == "1989-01-08")
        #expect(n.birthDate("令和2年2月29日")?.description == "2020-02-29")
        #expect(n.birthDate("1975-02-30") == nil)
        #expect(n.birthDate("2023-02-29") == nil)
        #expect(n.birthDate("2024-02-29")?.description == "2024-02-29")
        #expect(n.birthDate("平成元年1月7日") == nil)  // 平成 began on the 8th
        #expect(n.birthDate("75-4-1") == nil)
        #expect(n.birthDate("yesterday") == nil)
    }

    @Test func sexParsing() {
        #expect(Sex(parsing: "1") == .male)
        #expect(Sex(parsing: "２") == .female)
        #expect(Sex(parsing: "F") == .female)
        #expect(Sex(parsing: "男") == .male)
        #expect(Sex(parsing: "女性") == .female)
        #expect(Sex(parsing: "x") == nil)
    }

    @Test func myNumberCheckDigit() {
        // 12345678901 → Σ = 1·6+0·5... computed by hand: check digit 8.
        #expect(MyNumber.checkDigit(forBody: "12345678901") == 8)
        #expect(MyNumber.isValid("123456789018"))
        #expect(MyNumber.problem("123456789012") == "check digit mismatch")
        #expect(MyNumber.problem("12345678901") == "must be 12 digits")
        #expect(MyNumber.problem("12345678901a") == "must be 12 digits")
        #expect(ResidentCode.isValid("01234567890"))
        #expect(!ResidentCode.isValid("0123456789"))
    }

    @Test func normaliseReportsTheField() {
        let bad = Facts(name: "山田太郎", address: "本町1-2-3", birthDate: "1975-13-01", sex: .male)
        #expect(throws: InvalidFact(field: "birth_date", reason: "not a valid date")) { try n.normalise(bad).get() }
        let kana = Facts(name: "山田太郎", nameKana: "Yamada", address: "本町1-2-3", birthDate: "1975-01-01", sex: .male)
        #expect(throws: InvalidFact(field: "name_kana", reason: "not kana")) { try n.normalise(kana).get() }
        let noName = Facts(name: "　", address: "本町1-2-3", birthDate: "1975-01-01", sex: .male)
        #expect(throws: InvalidFact(field: "name", reason: "missing")) { try n.normalise(noName).get() }
    }
}
