"""Hand-written tables for the sample catalogue (read by compose_sample_catalog.py).

Item names are the kind of names real 政务服务 catalogues use, grouped by the
department that handles them; departments are real kinds of offices in each city.
None of this is an official list: no official copy of the 深莞通办 or 张家港
跨省通办 lists is published. Material ids refer to MATERIALS below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# department key -> its name in each region
DEPARTMENTS: dict[str, dict[str, str]] = {
    "police": {
        "shenzhen": "深圳市公安局",
        "dongguan": "东莞市公安局",
        "zhangjiagang": "张家港市公安局",
    },
    "traffic": {
        "shenzhen": "深圳市公安局交通警察局",
        "dongguan": "东莞市公安局交通警察支队",
        "zhangjiagang": "张家港市公安局交通警察大队",
    },
    "exit_entry": {
        "shenzhen": "深圳市公安局出入境管理局",
        "dongguan": "东莞市公安局出入境管理支队",
        "zhangjiagang": "张家港市公安局出入境管理大队",
    },
    "hrss": {
        "shenzhen": "深圳市人力资源和社会保障局",
        "dongguan": "东莞市人力资源和社会保障局",
        "zhangjiagang": "张家港市人力资源和社会保障局",
    },
    "social_insurance": {
        "shenzhen": "深圳市社会保险基金管理局",
        "dongguan": "东莞市社会保障局",
        "zhangjiagang": "张家港市社会保险基金管理中心",
    },
    "medical_insurance": {
        "shenzhen": "深圳市医疗保障局",
        "dongguan": "东莞市医疗保障局",
        "zhangjiagang": "张家港市医疗保障局",
    },
    "housing_fund": {
        "shenzhen": "深圳市住房公积金管理中心",
        "dongguan": "东莞市住房公积金管理中心",
        "zhangjiagang": "苏州市住房公积金管理中心张家港分中心",
    },
    "market": {
        "shenzhen": "深圳市市场监督管理局",
        "dongguan": "东莞市市场监督管理局",
        "zhangjiagang": "张家港市市场监督管理局",
    },
    "civil_affairs": {
        "shenzhen": "深圳市民政局",
        "dongguan": "东莞市民政局",
        "zhangjiagang": "张家港市民政局",
    },
    "tax": {
        "shenzhen": "国家税务总局深圳市税务局",
        "dongguan": "国家税务总局东莞市税务局",
        "zhangjiagang": "国家税务总局张家港市税务局",
    },
    "transport": {
        "shenzhen": "深圳市交通运输局",
        "dongguan": "东莞市交通运输局",
        "zhangjiagang": "张家港市交通运输局",
    },
    "health": {
        "shenzhen": "深圳市卫生健康委员会",
        "dongguan": "东莞市卫生健康局",
        "zhangjiagang": "张家港市卫生健康委员会",
    },
    "education": {
        "shenzhen": "深圳市教育局",
        "dongguan": "东莞市教育局",
        "zhangjiagang": "张家港市教育体育局",
    },
    "housing": {
        "shenzhen": "深圳市住房和建设局",
        "dongguan": "东莞市住房和城乡建设局",
        "zhangjiagang": "张家港市住房和城乡建设局",
    },
    "real_estate": {
        "shenzhen": "深圳市不动产登记中心",
        "dongguan": "东莞市不动产登记中心",
        "zhangjiagang": "张家港市不动产登记中心",
    },
    "veterans": {
        "shenzhen": "深圳市退役军人事务局",
        "dongguan": "东莞市退役军人事务局",
        "zhangjiagang": "张家港市退役军人事务局",
    },
    "justice": {
        "shenzhen": "深圳市司法局",
        "dongguan": "东莞市司法局",
        "zhangjiagang": "张家港市司法局",
    },
    "disabled": {
        "shenzhen": "深圳市残疾人联合会",
        "dongguan": "东莞市残疾人联合会",
        "zhangjiagang": "张家港市残疾人联合会",
    },
    "ecology": {
        "shenzhen": "深圳市生态环境局",
        "dongguan": "东莞市生态环境局",
        "zhangjiagang": "苏州市张家港生态环境局",
    },
    "culture": {
        "shenzhen": "深圳市文化广电旅游体育局",
        "dongguan": "东莞市文化广电旅游体育局",
        "zhangjiagang": "张家港市文体广电和旅游局",
    },
}

# material id -> (name, trust level, deferrable (容缺), required, format)
MATERIALS: dict[str, tuple[str, str, bool, bool, str]] = {
    "id_card": ("居民身份证", "B", False, True, "paper_or_electronic"),
    "hukou": ("居民户口簿", "B", True, True, "paper_or_electronic"),
    "photo": ("近期免冠证件照片（或数码照片回执）", "C", True, True, "electronic"),
    "old_document": ("原证件（遗失的提交遗失情况说明）", "C", False, True, "paper"),
    "residence_permit": ("居住证", "B", False, False, "paper_or_electronic"),
    "marriage_cert": ("结婚证", "B", True, False, "paper_or_electronic"),
    "birth_cert": ("出生医学证明", "A", False, True, "paper_or_electronic"),
    "death_cert": ("居民死亡医学证明（推断）书", "A", False, True, "paper_or_electronic"),
    "relation_proof": ("亲属关系证明材料", "C", True, True, "paper_or_electronic"),
    "agent_auth": ("授权委托书及受托人身份证明", "C", False, False, "paper_or_electronic"),
    "commitment": ("告知承诺书", "D", False, True, "paper_or_electronic"),
    "business_licence": ("营业执照", "A", False, True, "electronic"),
    "legal_rep_id": ("法定代表人身份证明", "B", False, True, "paper_or_electronic"),
    "articles": ("公司章程", "C", False, True, "paper_or_electronic"),
    "premises": ("住所（经营场所）使用证明", "C", True, True, "paper_or_electronic"),
    "site_plan": ("经营场所平面图及设施设备清单", "C", True, True, "paper_or_electronic"),
    "staff_health": ("从业人员健康证明", "C", True, True, "paper_or_electronic"),
    "safety_rules": ("安全管理制度及岗位责任制文件", "C", True, True, "paper_or_electronic"),
    "labour_contract": ("劳动合同或用工证明", "C", True, True, "paper_or_electronic"),
    "ss_card": ("社会保障卡", "A", False, True, "paper_or_electronic"),
    "bank_account": ("本人银行结算账户信息", "C", True, True, "paper_or_electronic"),
    "transfer_voucher": ("参保缴费凭证或转移接续联系函", "A", False, True, "electronic"),
    "medical_docs": ("医疗费用票据、费用明细清单及诊断证明", "C", False, True, "paper"),
    "graduation_cert": ("毕业证书", "B", False, True, "paper_or_electronic"),
    "qualification": ("资格证明或学历证明材料", "C", True, True, "paper_or_electronic"),
    "driver_licence": ("机动车驾驶证", "A", False, True, "paper_or_electronic"),
    "health_report": ("驾驶人身体条件证明", "C", False, True, "paper_or_electronic"),
    "vehicle_cert": ("机动车登记证书", "A", False, True, "paper"),
    "vehicle_origin": ("机动车来历证明", "C", False, True, "paper_or_electronic"),
    "compulsory_insurance": ("机动车交通事故责任强制保险凭证", "A", False, True, "electronic"),
    "travel_document": ("原出入境证件", "B", False, False, "paper"),
    "property_cert": ("不动产权证书", "A", False, True, "paper_or_electronic"),
    "sale_contract": ("不动产买卖合同或权属转移材料", "C", False, True, "paper_or_electronic"),
    "tax_proof": ("完税或减免税凭证", "A", True, True, "electronic"),
    "survey_report": ("不动产测绘报告", "C", False, True, "paper_or_electronic"),
    "fund_account": ("住房公积金缴存证明", "A", False, True, "electronic"),
    "housing_proof": ("住房证明材料（购房合同、租赁合同或贷款合同）", "C", True, True, "paper"),
    "retirement_proof": ("退休证明材料", "A", False, True, "paper_or_electronic"),
    "tax_return": ("申报表及相关资料", "C", False, True, "electronic"),
    "invoice": ("合同、发票或交易凭证", "C", False, True, "paper_or_electronic"),
    "school_proof": ("学籍或在读证明", "A", False, True, "paper_or_electronic"),
    "income_proof": ("家庭收入和财产状况证明材料", "D", True, True, "paper_or_electronic"),
    "disability_assessment": ("残疾评定材料", "C", False, True, "paper"),
    "discharge_cert": ("退役证件（退出现役证明）", "B", False, True, "paper_or_electronic"),
    "eia_report": ("环境影响评价文件或排污许可申请材料", "C", False, True, "electronic"),
    "plan_approval": ("建设工程规划许可证等前置审批文件", "A", False, True, "electronic"),
    "notary_docs": ("需公证的文书原件及相关证明材料", "C", False, True, "paper"),
}


@dataclass(frozen=True)
class Group:
    """Items of one department that share a type, modes, materials and time limits."""

    dept: str
    task_type: str
    names: tuple[str, ...]
    materials: tuple[str, ...]
    modes: tuple[str, ...] = ("full_online",)
    server: tuple[str, ...] = ("person",)
    limits: tuple[int, int] = (20, 10)  # (anticipate_day, promise_day), working days
    high_frequency: bool = False
    kstb: bool = False  # a candidate for the 张家港 跨省通办 list
    video: bool = False
    fee: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


P, E, PE = ("person",), ("enterprise",), ("person", "enterprise")

# fmt: off
GROUPS: tuple[Group, ...] = (
    Group("police", "confirmation", (
        "居民身份证换领", "居民身份证补领", "居民身份证首次申领", "居民身份证异地换领",
        "居民身份证异地补领", "临时居民身份证申领", "居民身份证有效期满换领",
    ), ("id_card", "hukou", "photo", "old_document"), ("proxy",), P, (20, 15), True, True),
    Group("police", "confirmation", (
        "出生登记", "死亡人员户口注销", "户口迁入（投靠亲属）", "户口迁入（人才引进）",
        "户口迁入（应届毕业生）", "户口迁出", "户口迁移（跨省）", "姓名变更登记",
        "出生日期更正", "民族成份变更", "户籍证明开具", "户口簿补领", "户口簿换领",
        "分户登记", "立户登记", "户口恢复登记", "亲属关系证明开具", "无犯罪记录证明开具",
        "居住证申领", "居住证签注", "居住证补领", "居住登记",
    ), ("id_card", "hukou", "relation_proof", "commitment"), ("multi_region", "proxy"), P,
        (20, 10), True, True),
    Group("police", "licence", (
        "保安员证核发", "旅馆业特种行业许可证核发", "公章刻制备案", "犬只登记",
        "剧毒化学品购买许可", "烟花爆竹道路运输许可", "民用爆炸物品购买许可",
        "大型群众性活动安全许可", "易制毒化学品购买备案",
    ), ("legal_rep_id", "business_licence", "safety_rules"), ("full_online",), PE, (20, 10)),
    Group("traffic", "licence", (
        "机动车驾驶证换证", "机动车驾驶证补证", "机动车驾驶证有效期满换证", "机动车驾驶证审验",
        "提交驾驶人身体条件证明", "延期换领机动车驾驶证", "延期提交身体条件证明",
        "机动车驾驶证注销", "恢复驾驶资格", "境外机动车驾驶证换证", "军队武警驾驶证换证",
        "增加准驾车型申领", "初次申领机动车驾驶证", "驾驶人联系方式变更备案",
    ), ("id_card", "driver_licence", "health_report", "photo"), ("full_online", "proxy"), P,
        (10, 1), True, True),
    Group("traffic", "confirmation", (
        "机动车注册登记", "机动车转移登记", "机动车变更登记", "机动车抵押登记",
        "机动车解除抵押登记", "机动车注销登记", "补领机动车号牌", "换领机动车号牌",
        "补领机动车行驶证", "换领机动车行驶证", "机动车检验合格标志核发", "补领机动车登记证书",
        "机动车临时号牌核发", "电动自行车登记", "校车标牌核发",
    ), ("id_card", "vehicle_cert", "vehicle_origin", "compulsory_insurance"), ("full_online",),
        P, (10, 2), True),
    Group("exit_entry", "licence", (
        "普通护照首次申领", "普通护照换发", "普通护照补发", "往来港澳通行证首次申领",
        "往来港澳通行证换发", "往来港澳通行证补发", "往来台湾通行证首次申领",
        "往来台湾通行证换发", "往来台湾通行证补发",
    ), ("id_card", "photo", "travel_document"), ("proxy",), P, (7, 7), True, True,
        fee="按国家规定的证件工本费标准收取"),
    Group("exit_entry", "licence", (
        "赴港团队旅游签注", "赴港个人旅游签注", "赴澳个人旅游签注", "赴港澳探亲签注",
        "赴港澳商务签注", "赴港澳其他签注", "赴台团队旅游签注", "赴台探亲签注",
        "出入境记录查询", "外国人居留许可", "外国人签证延期",
    ), ("id_card", "travel_document", "photo"), ("full_online", "proxy"), P, (7, 5), True,
        fee="按国家规定的签注费标准收取"),
    Group("hrss", "public_service", (
        "失业登记", "就业登记", "就业创业证申领", "就业创业证查询核验", "高校毕业生就业报到",
        "职业资格证书核查", "技能人员职业资格证书补发", "流动人员人事档案接收",
        "流动人员人事档案转递", "企业职工档案查询", "技能提升补贴申领", "求职创业补贴申领",
        "灵活就业人员社保补贴申领", "创业担保贷款申请", "一次性创业补贴申领",
        "就业困难人员认定", "职业培训补贴申领",
    ), ("id_card", "labour_contract", "bank_account"), ("full_online",), P, (20, 10), True,
        True, video=True),
    Group("hrss", "licence", (
        "人力资源服务许可", "劳务派遣经营许可", "特殊工时制度审批", "专业技术人员职称评审",
        "劳动人事争议仲裁申请", "劳动保障监察投诉", "工伤认定", "劳动能力鉴定",
    ), ("legal_rep_id", "business_licence", "commitment"), ("full_online", "proxy"), PE,
        (20, 15)),
    Group("social_insurance", "public_service", (
        "社会保障卡补领", "社会保障卡换领", "社会保障卡挂失", "社会保障卡启用",
        "社会保障卡应用状态查询", "个人参保登记", "参保信息变更", "个人参保证明查询打印",
        "社会保险参保缴费记录查询", "灵活就业人员参保登记", "城乡居民养老保险参保登记",
        "领取养老金人员待遇资格认证", "养老保险待遇发放账户变更", "暂停养老保险待遇发放",
        "恢复养老保险待遇发放", "养老保险个人权益记录打印",
    ), ("id_card", "photo", "agent_auth"), ("full_online",), P, (15, 5), True, True, video=True),
    Group("social_insurance", "payment", (
        "企业职工基本养老保险关系转移接续", "城乡居民基本养老保险关系转移接续",
        "机关事业单位养老保险关系转移接续", "失业保险关系转移接续", "养老保险待遇申领",
        "失业保险金申领", "工伤保险待遇申领", "丧葬补助金、抚恤金申领",
        "个人账户一次性待遇申领", "生育保险待遇申领",
    ), ("id_card", "transfer_voucher", "bank_account"), ("multi_region", "full_online"), P,
        (45, 20), True, True, video=True),
    Group("social_insurance", "public_service", (
        "单位参保登记", "工伤保险参保登记", "社会保险费缴费基数申报", "单位参保信息变更",
    ), ("business_licence", "legal_rep_id"), ("full_online",), E, (5, 1)),
    Group("medical_insurance", "public_service", (
        "异地就医登记备案", "基本医疗保险参保登记", "基本医疗保险关系转移接续",
        "医保电子凭证激活", "门诊慢特病待遇认定", "医疗保险参保凭证打印",
        "城乡居民医疗保险参保登记", "医疗保险个人账户家庭共济", "新生儿参保登记",
        "医疗保险参保信息变更", "异地长期居住人员备案",
    ), ("id_card", "ss_card", "medical_docs"), ("full_online", "multi_region"), P, (15, 5),
        True, True),
    Group("medical_insurance", "payment", (
        "零星医疗费用报销", "生育医疗费用报销", "生育津贴申领", "长期护理保险待遇申请",
        "定点医药机构申请",
    ), ("id_card", "medical_docs", "bank_account"), ("proxy",), P, (30, 20), True),
    Group("housing_fund", "public_service", (
        "住房公积金个人账户设立", "住房公积金个人账户封存", "住房公积金个人账户启封",
        "住房公积金异地转移接续", "租房提取住房公积金", "偿还住房贷款提取住房公积金",
        "离职提取住房公积金", "出境定居提取住房公积金", "住房公积金个人贷款申请",
        "开具住房公积金个人住房贷款全部还清证明", "出具贷款职工住房公积金缴存使用证明",
        "住房公积金缴存证明开具", "灵活就业人员缴存住房公积金",
        "住房公积金个人信息变更", "住房公积金个人账户合并",
    ), ("id_card", "fund_account", "housing_proof", "bank_account"), ("full_online",), P,
        (5, 3), True, True, video=True),
    Group("housing_fund", "public_service", (
        "住房公积金单位缴存登记", "住房公积金缴存基数调整", "住房公积金汇缴",
        "住房公积金单位信息变更",
    ), ("business_licence", "legal_rep_id"), ("full_online",), E, (5, 2)),
    Group("market", "licence", (
        "有限责任公司设立登记", "有限责任公司变更登记", "有限责任公司注销登记", "企业简易注销登记",
        "外商投资企业设立登记", "农民专业合作社设立登记", "营业执照补领", "企业名称自主申报",
        "企业章程备案", "股权出质登记", "动产抵押登记", "个体工商户设立登记",
        "个体工商户变更登记", "个体工商户注销登记", "企业迁移登记", "分公司设立登记",
        "个人独资企业设立登记", "合伙企业设立登记",
    ), ("legal_rep_id", "articles", "premises", "agent_auth"), ("full_online",), E, (15, 1),
        False, True),
    Group("market", "licence", (
        "食品经营许可", "食品经营许可变更", "食品经营许可延续", "食品生产许可", "小餐饮登记",
        "药品零售企业许可", "第二类医疗器械经营备案", "第三类医疗器械经营许可",
        "特种设备使用登记", "企业年度报告公示",
    ), ("business_licence", "legal_rep_id", "site_plan", "staff_health"), ("full_online",),
        E, (20, 10)),
    Group("civil_affairs", "confirmation", (
        "结婚登记", "离婚登记", "补领结婚证", "补领离婚证", "收养登记",
        "婚姻登记记录证明开具",
    ), ("id_card", "hukou", "photo", "commitment"), ("proxy",), P, (1, 1), True, True),
    Group("civil_affairs", "payment", (
        "最低生活保障申请", "特困人员救助供养申请", "临时救助申请", "高龄津贴申领",
        "残疾人两项补贴申领", "居家养老服务补贴申请",
    ), ("id_card", "hukou", "income_proof", "bank_account"), ("proxy",), P, (30, 20), True),
    Group("civil_affairs", "licence", (
        "社会团体成立登记", "民办非企业单位成立登记", "养老机构备案", "殡葬服务预约",
    ), ("legal_rep_id", "articles", "premises"), ("full_online",), E, (30, 20)),
    Group("tax", "public_service", (
        "个人所得税综合所得汇算清缴", "个人所得税纳税记录开具", "完税证明开具", "清税证明开具",
        "灵活就业人员社保费缴纳", "城乡居民医保费缴纳", "税收居民身份证明开具",
        "车辆购置税申报", "契税申报", "个人所得税专项附加扣除信息报送",
    ), ("id_card", "tax_return"), ("full_online",), P, (10, 1), True, True),
    Group("tax", "public_service", (
        "发票领用", "增值税普通发票代开", "税务登记信息变更", "跨区域涉税事项报告",
        "出口退（免）税备案", "房产税申报", "印花税申报", "纳税信用等级评价结果查询",
        "非正常户解除",
    ), ("business_licence", "tax_return", "invoice"), ("full_online",), E, (10, 1)),
    Group("transport", "licence", (
        "道路运输从业人员从业资格证核发", "道路运输从业资格证换证", "道路运输从业资格证补证",
        "网络预约出租汽车驾驶员证核发", "出租汽车驾驶员从业资格证核发",
    ), ("id_card", "driver_licence", "qualification", "photo"), ("full_online", "proxy"), P,
        (20, 10), True, True),
    Group("transport", "licence", (
        "道路货物运输经营许可", "网络预约出租汽车运输证核发", "道路运输证配发",
        "道路运输证年度审验", "机动车维修经营备案", "机动车驾驶员培训经营备案",
        "超限运输车辆行驶公路许可", "巡游出租汽车经营许可",
    ), ("business_licence", "legal_rep_id", "safety_rules"), ("full_online",), E, (20, 10)),
    Group("health", "confirmation", (
        "出生医学证明首次签发", "出生医学证明补发", "出生医学证明换发", "生育登记",
        "再生育审批", "独生子女父母光荣证补办", "计划生育家庭奖励扶助申请", "预防接种证补办",
    ), ("id_card", "marriage_cert", "birth_cert"), ("full_online", "proxy"), P, (20, 5), True,
        True),
    Group("health", "licence", (
        "医师执业注册", "医师执业变更注册", "护士执业注册", "护士执业延续注册",
        "医疗机构执业登记", "诊所备案", "公共场所卫生许可", "放射诊疗许可",
        "母婴保健技术服务执业许可", "医疗机构校验", "慈善组织认定",
    ), ("id_card", "qualification", "premises", "commitment"), ("full_online",), PE, (20, 10)),
    Group("education", "public_service", (
        "义务教育阶段入学申请", "中小学转学申请", "学籍信息变更", "高中阶段学历证明开具",
        "中等职业学校毕业证书补办", "学生资助申请", "普通话水平测试等级证书补发",
        "教师资格认定", "教师资格证书补发",
    ), ("id_card", "hukou", "school_proof", "graduation_cert"), ("full_online", "proxy"), P,
        (20, 10), True, True),
    Group("education", "licence", (
        "民办学校办学许可", "校外培训机构设立审批", "民办学校变更审批",
    ), ("legal_rep_id", "articles", "premises", "safety_rules"), ("full_online",), E,
        (30, 20)),
    Group("housing", "public_service", (
        "公共租赁住房申请", "保障性租赁住房申请", "人才住房申请", "住房租赁登记备案",
        "建筑工人实名登记", "二级建造师执业注册",
    ), ("id_card", "hukou", "income_proof", "housing_proof"), ("full_online",), P, (20, 15),
        True),
    Group("housing", "licence", (
        "商品房预售许可", "建筑工程施工许可", "建筑业企业资质许可",
        "建筑施工企业安全生产许可", "房屋建筑工程竣工验收备案", "物业服务企业备案",
        "房地产经纪机构备案", "燃气经营许可",
    ), ("business_licence", "legal_rep_id", "plan_approval", "safety_rules"), ("full_online",),
        E, (20, 10)),
    Group("real_estate", "confirmation", (
        "不动产首次登记", "不动产转移登记", "不动产变更登记", "不动产注销登记",
        "不动产预告登记", "不动产权证书补发", "不动产权证书换发", "不动产更正登记",
        "存量房转移登记", "商品房转移登记", "抵押权注销登记", "不动产异议登记",
        "不动产登记资料查询", "不动产抵押权首次登记",
    ), ("id_card", "property_cert", "sale_contract", "tax_proof", "survey_report"),
        ("proxy", "full_online"), PE, (30, 5), True, True, fee="按规定收取不动产登记费"),
    Group("veterans", "payment", (
        "退役军人优待证申领", "退役军人信息采集", "伤残抚恤关系转移",
        "退役士兵自主就业一次性经济补助", "优抚对象定期抚恤补助", "退役军人创业贷款贴息",
        "退役军人就业创业扶持",
    ), ("id_card", "discharge_cert", "bank_account"), ("proxy", "multi_region"), P, (20, 15),
        False, True),
    Group("justice", "public_service", (
        "出生公证", "学历公证", "学位公证", "亲属关系公证", "婚姻状况公证", "无犯罪记录公证",
        "法律援助申请", "人民调解申请",
    ), ("id_card", "notary_docs", "commitment"), ("proxy", "full_online"), P, (15, 10), False,
        True, fee="按规定的公证服务收费标准收取"),
    Group("disabled", "confirmation", (
        "残疾人证新办", "残疾人证换领", "残疾人证补办", "残疾人证迁移", "残疾人就业登记",
    ), ("id_card", "photo", "disability_assessment"), ("proxy",), P, (20, 15), False, True),
    Group("ecology", "licence", (
        "排污许可证延续", "排污许可证变更", "建设项目环境影响评价审批", "危险废物经营许可",
        "辐射安全许可",
    ), ("business_licence", "legal_rep_id", "eia_report"), ("full_online",), E, (20, 15)),
    Group("culture", "licence", (
        "导游证核发", "营业性演出许可", "娱乐场所经营许可",
        "互联网上网服务营业场所经营单位设立审批", "出版物零售单位设立审批",
    ), ("legal_rep_id", "premises", "safety_rules"), ("full_online",), PE, (20, 10)),
)

# fmt: on

# Items both cities handle to the same standard (同事同标). 企业开办 and 社会保障卡申领
# are the two the press names; the rest are the sample catalogue's choice.
SAME_STANDARD: tuple[str, ...] = (
    "企业开办",
    "社会保障卡申领",
    "个体工商户设立登记",
    "失业登记",
    "居民身份证换领",
    "住房公积金异地转移接续",
    "异地就医登记备案",
)

# Press names of the national 跨省通办 list -> (department, type, material ids, modes,
# name of the same item in the 深莞 sample catalogue, or None).
# fmt: off
PRESS_KSTB: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...], str | None]] = {
    "机动车驾驶证公证": ("justice", "public_service", ("id_card", "driver_licence"),
                         ("proxy",), None),
    "失业登记": ("hrss", "public_service", ("id_card", "labour_contract"), ("full_online",),
                 "失业登记"),
    "企业职工基本养老保险关系转移接续": ("social_insurance", "payment",
                                         ("id_card", "transfer_voucher"), ("multi_region",),
                                         "企业职工基本养老保险关系转移接续"),
    "城乡居民基本养老保险关系转移接续": ("social_insurance", "payment",
                                         ("id_card", "transfer_voucher"), ("multi_region",),
                                         "城乡居民基本养老保险关系转移接续"),
    "正常退休提取住房公积金": ("housing_fund", "public_service",
                               ("id_card", "retirement_proof", "bank_account"),
                               ("full_online",), None),
    "排污许可": ("ecology", "licence", ("business_licence", "eia_report"), ("full_online",),
                 None),
    "内资企业及分支机构设立登记": ("market", "licence", ("legal_rep_id", "articles", "premises"),
                                   ("full_online",), None),
    "不动产抵押登记": ("real_estate", "confirmation", ("id_card", "property_cert"),
                       ("proxy",), None),
    "购房提取住房公积金": ("housing_fund", "public_service",
                           ("id_card", "housing_proof", "bank_account"), ("full_online",),
                           None),
    "市场主体登记注册": ("market", "licence", ("legal_rep_id", "articles", "premises"),
                         ("full_online",), None),
    "工业产品生产许可证发证": ("market", "licence", ("business_licence", "qualification"),
                               ("full_online",), None),
    "异地就医结算备案": ("medical_insurance", "public_service", ("id_card", "ss_card"),
                         ("full_online",), "异地就医登记备案"),
    "婚姻登记": ("civil_affairs", "confirmation", ("id_card", "hukou", "photo"), ("proxy",),
                 None),
    "社会保险参保缴费记录查询": ("social_insurance", "public_service", ("id_card",),
                                 ("full_online",), "社会保险参保缴费记录查询"),
    "无犯罪记录证明开具(异地申请)": ("police", "confirmation", ("id_card", "commitment"),
                                     ("proxy",), "无犯罪记录证明开具"),
    "户籍类证明开具(异地申请)": ("police", "confirmation", ("id_card", "hukou"), ("proxy",),
                                 "户籍证明开具"),
    "社会保障卡申领": ("social_insurance", "public_service", ("id_card", "photo"),
                       ("full_online", "proxy"), "社会保障卡申领"),
    "异地就医登记备案和结算": ("medical_insurance", "public_service", ("id_card", "ss_card"),
                               ("full_online",), None),
    "养老保险关系转移接续": ("social_insurance", "payment", ("id_card", "transfer_voucher"),
                             ("multi_region",), None),
    "户口迁移": ("police", "confirmation", ("id_card", "hukou", "relation_proof"),
                 ("multi_region",), "户口迁移（跨省）"),
    "住房公积金转移接续": ("housing_fund", "public_service", ("id_card", "fund_account"),
                           ("multi_region",), "住房公积金异地转移接续"),
}
# fmt: on
