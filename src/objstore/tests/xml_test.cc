#include "objstore/s3_xml.h"

#include <gtest/gtest.h>

namespace floe::objstore::xml {
namespace {

TEST(s3_xml, finds_elements_without_matching_longer_names) {
    std::string_view doc =
        "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"x\"><KeyMarker>m</KeyMarker>"
        "<Contents><Key>a</Key><Size>1</Size></Contents>"
        "<Contents><Key>b&amp;c</Key><Size>22</Size></Contents>"
        "<IsTruncated>false</IsTruncated></ListBucketResult>";
    auto contents = elements(doc, "Contents");
    ASSERT_EQ(contents.size(), 2u);
    EXPECT_EQ(first_text(contents[0], "Key"), "a");
    EXPECT_EQ(first_text(contents[1], "Key"), "b&c");
    EXPECT_EQ(first_text(contents[1], "Size"), "22");
    EXPECT_EQ(first_text(doc, "KeyMarker"), "m");
    EXPECT_EQ(first_text(doc, "IsTruncated"), "false");
    EXPECT_FALSE(first_text(doc, "NextContinuationToken").has_value());
}

TEST(s3_xml, handles_attributes_self_closing_and_truncation) {
    EXPECT_EQ(first_text("<A x=\"1\">v</A>", "A"), "v");
    EXPECT_EQ(first_text("<A/><A>w</A>", "A"), "");
    EXPECT_EQ(elements("<A>v</A><A>unterminated", "A").size(), 1u);
    EXPECT_TRUE(elements("", "A").empty());
    EXPECT_TRUE(elements("<A", "A").empty());
}

TEST(s3_xml, decodes_entities_references_and_cdata) {
    EXPECT_EQ(decode("&lt;&gt;&quot;&apos;&amp;"), "<>\"'&");
    EXPECT_EQ(decode("&#65;&#x42;&#xe9;"), "AB\xc3\xa9");
    EXPECT_EQ(decode("a&bogus;b&"), "a&bogus;b&");
    EXPECT_EQ(decode("<![CDATA[<x>&amp;]]>y"), "<x>&amp;y");
    EXPECT_EQ(escape("\"a\"&<b>"), "&quot;a&quot;&amp;&lt;b&gt;");
}

}  // namespace
}  // namespace floe::objstore::xml
