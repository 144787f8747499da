/// Texts of the log page's v2 verification data (merged into `Language.strings`).
extension PortalStrings {
    static let treeHeadJa: [String: String] = [
        "col_digest": "本人ダイジェスト",
        "col_leaf": "リーフハッシュ",
        "col_proof": "包含証明",
        "tree_head_title": "署名付きツリーヘッド",
        "tree_head_lead": "記録全体（この件数まで）のマークル木の根に、中継システムが署名しています。各記録の包含証明をたどると、この根になります。確かめ方は docs/portal.md の「検証」を参照してください。",
        "tree_head_size": "件数",
        "tree_head_root": "根ハッシュ",
        "tree_head_none": "まだ署名付きツリーヘッドはありません。",
    ]

    static let treeHeadEn: [String: String] = [
        "col_digest": "Resident digest",
        "col_leaf": "Leaf hash",
        "col_proof": "Inclusion proof",
        "tree_head_title": "Signed tree head",
        "tree_head_lead": "The core has signed the Merkle root of the whole record up to this many entries. Each entry's inclusion proof leads to this root. How to check it: docs/portal.md, \"Verifying\".",
        "tree_head_size": "Entries",
        "tree_head_root": "Root hash",
        "tree_head_none": "The core has not signed a tree head yet.",
    ]
}
