//! The shop's Chinese vocabulary: product templates, brands, search queries,
//! cities and review phrases. Pure data, no logic.

/// A kind of product a category sells: the generator makes products from it
/// by adding a brand and a spec.
pub(crate) struct Template {
    /// Base name, e.g. `全价成犬粮`.
    pub name: &'static str,
    /// Size / colour / grade specs appended to the name.
    pub specs: &'static [&'static str],
    /// List price range in whole yuan.
    pub yuan: (i64, i64),
    /// Re-bought when used up.
    pub consumable: bool,
}

const fn t(name: &'static str, specs: &'static [&'static str], lo: i64, hi: i64, consumable: bool) -> Template {
    Template { name, specs, yuan: (lo, hi), consumable }
}

/// Everything the generator says about one category.
pub(crate) struct CategoryVocab {
    pub templates: &'static [Template],
    pub brands: &'static [&'static str],
    pub queries: &'static [&'static str],
    /// Praise specific to the category (`宝宝很喜欢`).
    pub praise: &'static [&'static str],
}

/// Vocabulary per category, in [`super::catalogue::Category::ALL`] order.
pub(crate) const CATEGORIES: [CategoryVocab; 8] = [
    CategoryVocab {
        templates: &[
            t("有机婴儿米粉", &["250g", "500g"], 29, 89, true),
            t("婴儿纸尿裤", &["S码 84片", "M码 64片", "L码 52片", "XL码 44片"], 89, 199, true),
            t("婴幼儿配方奶粉", &["1段 800g", "2段 800g", "3段 800g"], 199, 399, true),
            t("婴儿湿巾", &["80抽×6包", "80抽×12包"], 29, 69, true),
            t("婴儿洗发沐浴露", &["300ml", "500ml"], 39, 99, true),
            t("宝宝辅食碗套装", &["吸盘款", "保温款"], 49, 129, false),
            t("婴儿连体衣 纯棉", &["59码", "66码", "73码", "80码"], 59, 159, false),
            t("婴儿推车 轻便折叠", &["高景观款", "可登机款"], 299, 599, false),
            t("儿童安全座椅", &["0-4岁", "9个月-12岁"], 399, 599, false),
            t("防胀气奶瓶", &["160ml", "240ml"], 49, 139, false),
        ],
        brands: &["贝亲", "花王", "帮宝适", "飞鹤", "君乐宝", "好孩子", "嘉宝", "爱他美", "全棉时代"],
        queries: &["纸尿裤", "婴儿奶粉", "婴儿米粉", "婴儿湿巾", "婴儿推车", "安全座椅", "奶瓶", "宝宝辅食"],
        praise: &["宝宝很喜欢", "宝宝吃得很香", "用着很放心，不红屁屁"],
    },
    CategoryVocab {
        templates: &[
            t("全价成犬粮", &["2kg", "10kg", "15kg"], 69, 499, true),
            t("全价幼犬粮", &["1.5kg", "5kg"], 59, 299, true),
            t("全价成猫粮", &["2kg", "5kg", "10kg"], 59, 459, true),
            t("全价幼猫粮", &["1.5kg", "2kg"], 59, 199, true),
            t("冻干猫零食", &["100g", "200g"], 29, 89, true),
            t("主食猫罐头", &["85g×12", "170g×6"], 49, 129, true),
            t("猫砂 豆腐砂", &["6L", "6L×4包"], 29, 119, true),
            t("狗狗洁齿骨", &["20支", "40支"], 29, 79, true),
            t("宠物营养膏", &["120g"], 39, 89, true),
        ],
        brands: &["皇家", "渴望", "网易严选", "麦富迪", "比瑞吉", "伯纳天纯", "冠能", "卫仕"],
        queries: &["狗粮", "猫粮", "幼猫粮", "猫罐头", "猫砂", "冻干", "狗狗零食"],
        praise: &["狗狗爱吃", "猫咪很爱吃，一直回购", "毛色变亮了"],
    },
    CategoryVocab {
        templates: &[
            t("纯棉圆领T恤", &["白色 M", "黑色 L", "灰色 XL"], 59, 159, false),
            t("高腰阔腿牛仔裤", &["25码", "27码", "29码"], 129, 299, false),
            t("轻薄羽绒服", &["藏青 L", "米白 M"], 399, 899, false),
            t("碎花连衣裙", &["S", "M", "L"], 159, 399, false),
            t("运动休闲卫衣", &["M", "L", "XL"], 129, 299, false),
            t("真丝衬衫", &["S", "M"], 299, 699, false),
            t("缓震跑步鞋", &["38码", "40码", "42码"], 299, 699, false),
            t("羊毛针织开衫", &["M", "L"], 199, 599, false),
        ],
        brands: &["优衣库", "太平鸟", "波司登", "李宁", "安踏", "森马", "江南布衣", "回力"],
        queries: &["连衣裙", "牛仔裤", "羽绒服", "T恤", "卫衣", "跑步鞋", "开衫"],
        praise: &["穿着很舒服", "版型好看，显瘦", "面料柔软透气"],
    },
    CategoryVocab {
        templates: &[
            t("玻尿酸补水面膜", &["10片", "20片"], 59, 159, true),
            t("氨基酸洗面奶", &["120g"], 39, 99, true),
            t("持妆粉底液", &["30ml"], 129, 399, true),
            t("丝绒哑光口红", &["#01", "#03", "#07"], 79, 299, true),
            t("清爽防晒霜 SPF50+", &["50ml"], 79, 199, true),
            t("修护精华液", &["30ml", "50ml"], 199, 899, true),
            t("保湿乳液", &["100ml"], 89, 299, true),
            t("温和卸妆水", &["400ml"], 49, 129, true),
        ],
        brands: &["珀莱雅", "完美日记", "花西子", "薇诺娜", "自然堂", "百雀羚", "欧莱雅", "兰蔻"],
        queries: &["面膜", "洗面奶", "粉底液", "口红", "防晒霜", "精华液", "卸妆水"],
        praise: &["效果明显，皮肤水润", "不油腻，很好吸收", "颜色很正，显白"],
    },
    CategoryVocab {
        templates: &[
            t("每日坚果", &["750g", "30包"], 49, 80, true),
            t("麻辣牛肉干", &["200g"], 29, 69, true),
            t("零食大礼包", &["1.5kg"], 49, 80, true),
            t("手撕面包", &["1kg"], 19, 39, true),
            t("芒果干", &["120g", "500g"], 10, 45, true),
            t("海苔脆片", &["40g×3"], 10, 29, true),
            t("辣条", &["108g×10"], 10, 25, true),
            t("原味薯片", &["70g×5"], 15, 35, true),
        ],
        brands: &["三只松鼠", "良品铺子", "百草味", "卫龙", "旺旺", "来伊份", "洽洽"],
        queries: &["坚果", "牛肉干", "零食大礼包", "辣条", "薯片", "芒果干", "面包"],
        praise: &["味道不错，很新鲜", "孩子很爱吃", "好吃不腻，会回购"],
    },
    CategoryVocab {
        templates: &[
            t("降噪蓝牙耳机", &["白色", "黑色"], 199, 1999, false),
            t("智能手表", &["运动版", "NFC版"], 499, 2999, false),
            t("65W氮化镓充电器", &["套装"], 200, 299, false),
            t("移动电源 20000mAh", &["快充版"], 200, 299, false),
            t("机械键盘", &["青轴", "红轴"], 299, 899, false),
            t("平板电脑 11英寸", &["8+128G", "8+256G"], 1999, 4999, false),
            t("智能手机", &["12+256G", "16+512G"], 1999, 5000, false),
            t("无线静音鼠标", &["石墨黑", "冰川白"], 200, 399, false),
        ],
        brands: &["小米", "华为", "荣耀", "OPPO", "vivo", "倍思", "绿联", "漫步者"],
        queries: &["蓝牙耳机", "智能手表", "充电器", "充电宝", "机械键盘", "平板电脑", "手机"],
        praise: &["音质很好，续航给力", "运行流畅，用起来很顺手", "做工扎实，性价比高"],
    },
    CategoryVocab {
        templates: &[
            t("纯棉四件套", &["1.5m", "1.8m"], 199, 699, false),
            t("记忆棉枕头", &["单只装", "两只装"], 99, 299, false),
            t("抽纸", &["120抽×24包"], 39, 69, true),
            t("洗衣凝珠", &["52颗", "104颗"], 39, 99, true),
            t("不锈钢保温杯", &["500ml"], 69, 199, false),
            t("收纳箱", &["三件套"], 59, 149, false),
            t("乳胶床垫", &["1.5m", "1.8m"], 999, 1999, false),
            t("厨房纸巾", &["75节×8卷"], 19, 39, true),
        ],
        brands: &["网易严选", "名创优品", "维达", "清风", "蓝月亮", "膳魔师", "富安娜", "水星家纺"],
        queries: &["四件套", "枕头", "抽纸", "洗衣凝珠", "保温杯", "收纳箱", "床垫"],
        praise: &["用起来很顺手", "睡得很舒服", "家里人都说好用"],
    },
    CategoryVocab {
        templates: &[
            t("智利车厘子", &["2斤", "5斤"], 99, 299, true),
            t("赣南脐橙", &["5kg", "10kg"], 39, 99, true),
            t("厄瓜多尔白虾", &["1.5kg"], 99, 199, true),
            t("阿克苏冰糖心苹果", &["5kg"], 39, 89, true),
            t("澳洲谷饲牛排", &["1kg"], 129, 259, true),
            t("散养土鸡蛋", &["30枚"], 29, 59, true),
            t("五常大米", &["5kg", "10kg"], 49, 129, true),
            t("云南蓝莓", &["125g×4盒"], 39, 99, true),
        ],
        brands: &["盒马", "百果园", "京觅", "佳沛", "獐子岛", "恒都", "褚橙"],
        queries: &["车厘子", "橙子", "白虾", "苹果", "牛排", "鸡蛋", "大米", "蓝莓"],
        praise: &["很新鲜，个头大", "冷链到货还是冰的", "甜度很高，家人爱吃"],
    },
];

/// Series names appended to keep product names distinct.
pub(crate) const SERIES: [&str; 8] = ["经典款", "升级款", "旗舰款", "轻享版", "家庭装", "尝鲜装", "礼盒装", "Pro"];

/// Cities with their relative weight among the shop's users.
pub(crate) const CITIES: [(&str, f64); 20] = [
    ("上海", 10.0),
    ("北京", 10.0),
    ("广州", 8.0),
    ("深圳", 8.0),
    ("杭州", 7.0),
    ("成都", 7.0),
    ("武汉", 6.0),
    ("重庆", 6.0),
    ("南京", 5.0),
    ("西安", 5.0),
    ("苏州", 5.0),
    ("天津", 4.0),
    ("长沙", 4.0),
    ("郑州", 4.0),
    ("青岛", 3.0),
    ("厦门", 3.0),
    ("合肥", 3.0),
    ("宁波", 3.0),
    ("昆明", 3.0),
    ("沈阳", 3.0),
];

/// Where shared products go (`to` property of `Product Shared`).
pub(crate) const SHARE_TARGETS: [&str; 4] = ["wechat_friend", "wechat_moments", "xiaohongshu", "douyin"];

/// General praise, any category.
pub(crate) const PRAISE: [&str; 8] = [
    "物流很快，第二天就到了",
    "快递小哥很负责，送货上门",
    "包装很严实，没有破损",
    "质量很好，做工精细",
    "价格实惠，活动很划算",
    "客服态度很好，回复及时",
    "和描述的一样，很满意",
    "性价比很高",
];

/// Endings of good reviews.
pub(crate) const GOOD_ENDINGS: [&str; 4] = ["会回购的！", "推荐购买。", "好评！", "五星好评，下次还来。"];

/// Endings of bad reviews.
pub(crate) const BAD_ENDINGS: [&str; 4] = ["不会再买了。", "差评。", "很失望。", "希望商家改进。"];

/// Complaint phrases per [`super::catalogue::Topic`], in `Topic::ALL` order.
/// Each names its topic's keyword (物流/快递, 尺码, 质量, 客服, 价格, 包装) so
/// complaint topics can be mined from the text.
pub(crate) const COMPLAINTS: [&[&str]; 6] = [
    &["物流太慢了，等了一个星期", "快递太慢，催了好几次才到", "快递员态度差，直接扔在门口", "物流信息好几天不更新"],
    &["尺码偏小，建议买大一码", "尺码不准，穿着不合身", "尺码和描述的不一样，要退换"],
    &["质量一般，用了几天就坏了", "质量很差，和图片完全不一样", "有异味，质量堪忧", "质量不行，做工粗糙"],
    &["客服回复很慢，问题一直没解决", "客服态度不好，退货很麻烦", "联系客服没人理"],
    &["价格偏贵，不值这个价", "刚买就降价了，价格不保", "活动价格还不如平时便宜"],
    &["包装破损，里面东西洒了", "包装太简陋，盒子都压扁了", "包装漏气，收到已经坏了"],
];
