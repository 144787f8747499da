/// The purpose of each business process (BP-ID) as the whitelist describes it: the `task` text of
/// its rows in etc/linkcore/whitelist.toml (a BP-ID with several rows shows them joined). The core
/// has no such text (the whitelist is a loadable policy module that reads the file itself), so the
/// portal carries this copy; a BP-ID not listed is shown bare. Regenerate when whitelist.toml changes.
enum PortalPurposes {
    static let descriptions: [String: String] = [
        "BP-CHILD-ALLOWANCE": "児童手当法 — child allowance: income test against the family's previous residence",
        "BP-CHILD-REARING-ALLOWANCE": "児童扶養手当法 — child-rearing allowance: public pension received by the parent",
        "BP-SPECIAL-CHILD-ALLOWANCE": "特別児童扶養手当法 — special child allowance (prefecture): income of the parents",
        "BP-INFANT-EDUCATION-FREE": "子ども・子育て支援法 — free early-childhood education and care: household tax status",
        "BP-PENSION-CONTRIBUTION-EXEMPTION": "国民年金法 — national pension contribution exemption: income of the insured",
        "BP-PENSION-SURVIVOR": "国民年金法・厚生年金保険法 — survivors' pension: household and public-assistance status",
        "BP-PENSION-SUPPLEMENT": "年金生活者支援給付金法 — pension supplement for low-income pensioners: income",
        "BP-HEALTH-ELIGIBILITY": "国民健康保険法 — eligibility: is the resident insured elsewhere (employee insurance)? / 健康保険法 — eligibility between insurers (double enrolment check)",
        "BP-HEALTH-HIGH-COST": "健康保険法 — high-cost medical care benefit: income bracket of the insured",
        "BP-NHI-PREMIUM": "国民健康保険法 — premium assessment: income, including from a previous municipality",
        "BP-LTC-PREMIUM": "介護保険法 — long-term care premium withheld from pensions",
        "BP-LTC-COST-LIMIT": "介護保険法 — cost ceiling for care facilities: income and public assistance",
        "BP-PUBLIC-ASSISTANCE": "生活保護法 — means test: public pensions received / 生活保護法 — means test: health insurance status / 生活保護法 — means test: unemployment benefit received",
        "BP-DISABILITY-WELFARE": "障害者総合支援法 — user charge for disability services: household income",
        "BP-SCHOOL-AID": "学校教育法 — school expenses aid (就学援助): household income and assistance",
        "BP-HIGH-SCHOOL-TUITION": "高等学校等就学支援金法 — tuition support: parents' income",
        "BP-STUDENT-LOAN": "独立行政法人日本学生支援機構法 — scholarship eligibility: household income",
        "BP-LOCAL-TAX-ASSESSMENT": "地方税法 — resident tax assessment from the national tax return",
        "BP-NATIONAL-TAX": "国税通則法 — national tax investigation: local income records",
        "BP-EMPLOYMENT-INSURANCE": "雇用保険法 — unemployment benefit adjusted for old-age pension",
        "BP-PUBLIC-HOUSING": "公営住宅法 — municipal housing: income ceiling and rent reduction",
        "BP-TEMPORARY-BENEFIT-2021": "令和3年度 臨時特別給付金 — one-off benefit for tax-exempt households (closed)",
        "BP-HOUSING-LOAN-CREDIT": "租税特別措置法 — housing-loan tax credit: year-end loan balance from the lender",
        "BP-REVERSE-MORTGAGE": "民間連携 (with the resident's consent) — reverse mortgage: pension received",
        "BP-CUSTOMER-DUE-DILIGENCE": "犯罪収益移転防止法 (with the customer's consent) — a bank confirms that the address on record is current",
        "NOTICE": "住民への通知 — a municipality's notices to its residents' portal folders (お知らせ)",
        "SIGNIN": "認証連携 — sign-in to a municipality's e-application through My Portal (its own link code)",
    ]

    static func describe(_ bpID: String) -> String { descriptions[bpID] ?? "" }
}
